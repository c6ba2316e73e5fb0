"""The JSON API fuzzed by schemathesis against its own OpenAPI schema: no input makes it fail
with a server error, and every answer is JSON."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import content_type_conformance, not_a_server_error

from assay.web import create_app


@pytest.fixture(scope="module")
def api_schema(demo_store):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(demo_store.db))


def test_api_has_no_server_errors(api_schema, demo_store):  # type: ignore[no-untyped-def]
    """Random inputs from the schema; half the time with real run ids put in, so that the
    success paths (not only the 404s of random ids) meet random query parameters."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 6
    seen: set[int] = set()  # status codes of the current operation
    real = st.sampled_from([demo_store.v1, demo_store.v2, demo_store.judge])
    for operation in operations:
        seen.clear()

        @given(case=operation.as_strategy(), use_real=st.booleans(), a=real, b=real)
        @settings(
            max_examples=15,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case, use_real, a, b):  # type: ignore[no-untyped-def]
            if use_real:
                for params in (case.path_parameters or {}, case.query or {}):
                    for name in ("run", "run_a", "run_b"):
                        if name in params:
                            params[name] = b if name == "run_b" else a
                if "sample_id" in (case.path_parameters or {}):
                    case.path_parameters["sample_id"] = "q0001"
                if "eval_name" in (case.path_parameters or {}):
                    case.path_parameters["eval_name"] = "demo-qa"
                if case.query and "by" in case.query:  # the A/B grid: a real scorer and pair
                    case.query["by"] = "exact"
                    case.query["pair"] = 0
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error, content_type_conformance])
            assert response.headers["content-type"][0].startswith("application/json")
            seen.add(response.status_code)

        exercise()
        # Random trace ids only meet 404s here (the trace routes' success paths are fuzzed with
        # real ids in tests/trace/test_trace_api.py).
        no_success = ("/api/plan", "/api/certificates/{cert_id}", "/api/traces/{trace_id}")
        # Nor monitor passes nor alerts (tested in tests/web/test_monitor_browser.py).
        no_success += ("/api/monitor/routes/{route}", "/api/alerts/{alert_id}/ack")
        # No prompt or dataset registry in the demo (tests/web/test_registry_browser.py has both).
        no_success += ("/api/prompts/{name}", "/api/datasets/{name}")
        # The demo's runs are not probes (a probe run's page is tested in tests/probe).
        no_success += ("/api/runs/{run}/probe",)
        # /api/rank takes a list `runs` the fuzzer fills with random ids (tests/web/test_rank_page.py).
        no_success += ("/api/rank",)
        # The fuzzed app runs no monitoring schedule (tests/web/test_monitor_scheduler.py).
        no_success += ("/api/monitor/scheduler",)
        if operation.path not in no_success and not operation.path.endswith("/promote"):
            assert 200 in seen, operation.label


def test_schema_lists_every_api_route(api_schema):  # type: ignore[no-untyped-def]
    paths = set(api_schema.raw_schema["paths"])
    assert {
        "/api/runs",
        "/api/runs/{run}",
        "/api/runs/{run}/samples",
        "/api/runs/{run}/samples/{sample_id}",
        "/api/compare/{run_a}/{run_b}",
        "/api/plan",
        "/api/certificates",
        "/api/certificates/{cert_id}",
        "/api/runs/{run}/lint",
    } <= paths
    assert all(p.startswith("/api/") for p in paths)  # pages stay out of the API schema
