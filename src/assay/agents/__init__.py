"""Agent assurance from traces: tool reliability (J1), idempotency (J2), sagas (J3), semantic
validators with a dead-letter queue and replay (J4), write-path gate conformance (J5),
escalation audits (J6), and trajectory scoring of imported traces.

Every audit is a pure function of the trace store plus a team's declarations (``agents.yaml``:
tools, jobs, validators, actors, handoffs); each returns a report with ``as_dict()`` (what
``--json`` prints and the web pages render) and ``findings`` (:class:`assay.core.findings.Finding`).
"""

from assay.agents._read import TraceWindow
from assay.agents.declarations import Declarations, load_agents_spec
from assay.agents.escalation import EscalationReport, escalation_audit
from assay.agents.gate_conformance import GateReport, check_gate, check_gate_file
from assay.agents.idempotency import IdempotencyReport, idempotency_audit
from assay.agents.sagas import SagaReport, saga_audit
from assay.agents.tools import ToolReport, tool_reliability
from assay.agents.trajectories import TrajectoryReport, load_references, score_trace_trajectories
from assay.agents.validators import (
    ValidationReport,
    get_dead_letter,
    list_dead_letters,
    replay_dead_letter,
    validate_jobs,
)

__all__ = [
    "Declarations",
    "EscalationReport",
    "GateReport",
    "IdempotencyReport",
    "SagaReport",
    "ToolReport",
    "TraceWindow",
    "TrajectoryReport",
    "ValidationReport",
    "check_gate",
    "check_gate_file",
    "escalation_audit",
    "get_dead_letter",
    "idempotency_audit",
    "list_dead_letters",
    "load_agents_spec",
    "load_references",
    "replay_dead_letter",
    "saga_audit",
    "score_trace_trajectories",
    "tool_reliability",
    "validate_jobs",
]
