"""Monitoring quality in production (issue 14): SLOs with error budgets, online judges on
sampled traffic, change points, the substrate timeline, "what changed", alerts, scheduled
canaries and the scheduler behind ``assay serve --monitor``.

Every analysis is a pure function of the store (:func:`run_pass` recomputes it for any past
moment); only alerts keep a lifecycle. The statistics live in :mod:`assay.stats.changepoints`
and :mod:`assay.stats.unpaired`.
"""

from assay.monitor.alerts import ack_alert, list_alerts
from assay.monitor.anchors import regrade_anchors
from assay.monitor.canary import run_canary
from assay.monitor.engine import PassReport, run_pass
from assay.monitor.explain import what_changed
from assay.monitor.judging import judge_traffic
from assay.monitor.scheduler import Scheduler
from assay.monitor.spec import Monitors, load_monitors, monitors_from_text
from assay.monitor.substrate import load_events, record_embedding_probe

__all__ = [
    "Monitors",
    "PassReport",
    "Scheduler",
    "ack_alert",
    "judge_traffic",
    "list_alerts",
    "load_events",
    "load_monitors",
    "monitors_from_text",
    "record_embedding_probe",
    "regrade_anchors",
    "run_canary",
    "run_pass",
    "what_changed",
]
