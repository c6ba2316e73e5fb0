"""``assay costs``, ``assay latency``, ``assay show RUN --cost`` and ``/api/costs``,
``/api/latency``: the same numbers everywhere, and one clear line for mistakes."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from tests.cli.conftest import assay_cli
from tests.costs import scenarios
from typer.testing import CliRunner

from assay.analyse.costs import cost_report
from assay.analyse.latency import latency_report
from assay.cli.app import app as cli
from assay.core import AssayError, Output, SampleResult, Score, Usage
from assay.store import Store


@pytest.fixture(scope="module")
def traffic_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = str(tmp_path_factory.mktemp("costs") / "assay.db")
    with Store(db) as store:
        scenarios.h7_jobs(store)
        scenarios.h6_probes(store)
    return db


def run_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_costs_json_is_the_report_and_names_the_loop(traffic_db):
    data = run_json("costs", "--db", traffic_db, "--target-requests", "10000")
    with Store(traffic_db) as store:
        report = cost_report(store, target_requests=10_000).as_dict()
    assert data["total_cost"] == pytest.approx(report["total_cost"])
    assert data["per_request"]["quantiles"] == report["per_request"]["quantiles"]
    assert data["forecast"]["target_requests"] == 10_000
    assert {a["value"]: a["alert"] for a in data["loops"]["alerts"]} == {
        "agent-orders": "agent_loop_suspected",
        "summaries": "spend_spike",
    }
    route_only = run_json("costs", "--db", traffic_db, "--route", "poller")
    assert [r["route"] for r in route_only["by_route"]] == ["poller"]


def test_latency_json_flags_the_off_peak_load_test(traffic_db):
    data = run_json("latency", "--db", traffic_db, "--route", "probe")
    with Store(traffic_db) as store:
        from assay.analyse.trace_frame import TrafficWindow

        report = latency_report(store, TrafficWindow(route="probe")).as_dict()
    assert data["overall"]["stages"] == json.loads(json.dumps(report["overall"]["stages"]))
    assert [t["flag"] for t in data["load_tests"]] == ["non_representative", None]


def test_tables_print(traffic_db):
    out = CliRunner().invoke(cli, ["costs", "--db", traffic_db], env={"COLUMNS": "200"}).stdout
    assert "agent_loop_suspected" in out and "Concentration" in out
    out = CliRunner().invoke(cli, ["latency", "--db", traffic_db], env={"COLUMNS": "200"}).stdout
    assert "non_representative" in out and "p99/p50" in out


def test_mistakes_are_one_line_and_exit_2(traffic_db, tmp_path):
    proc = assay_cli("costs", "--db", traffic_db, "--since", "last week", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: --since: cannot read 'last week' as a time")
    bad = tmp_path / "prices.yaml"
    bad.write_text("prices:\n  - {model: x, input: 1}\n")
    for args, fragment in (
        (
            ("costs", "--prices", str(bad)),
            f"{bad}:2 (prices[0]): price entry for 'x' has no output",
        ),
        (("costs", "--loops-by", "planet"), "--by: unknown unit 'planet'"),
        (("costs", "--staging", "nowhere"), "no traces in environment 'nowhere'"),
        (("latency", "--until", "2020-01-01", "--since", "2021-01-01"), "--until must be later"),
    ):
        result = CliRunner().invoke(cli, [*args, "--db", traffic_db])
        assert isinstance(result.exception, AssayError), (args, result.output)
        assert fragment in str(result.exception), str(result.exception)


def test_api_serves_the_same_numbers_and_400s_bad_input(traffic_db):
    from assay.web import create_app

    with Store(traffic_db) as store:
        client = TestClient(create_app(store))
        api = client.get("/api/costs", params={"route": "summaries"}).json()
        assert api["total_cost"] == pytest.approx(
            run_json("costs", "--db", traffic_db, "--route", "summaries")["total_cost"]
        )
        latency = client.get("/api/latency").json()
        assert (
            latency["peak_hours_utc"] == run_json("latency", "--db", traffic_db)["peak_hours_utc"]
        )
        for path in ("/api/costs?since=soon", "/api/latency?until=x", "/api/costs?target=0"):
            response = client.get(path)
            assert 400 <= response.status_code < 500, path
            assert "error" in response.json()
        assert client.get("/costs").status_code == 200
        assert client.get("/latency?since=nonsense").status_code == 400


def test_show_cost_prices_a_runs_subject_and_judge_calls(tmp_path, build):
    db = str(tmp_path / "assay.db")
    with Store(db) as store:
        store.create_run(
            build.manifest("run-cost-1", sample_ids=("q1", "q2")), build.samples()[:2], n_planned=2
        )
        results = []
        for k, sample in enumerate(("q1", "q2")):
            raw = {
                "usage": {
                    "prompt_tokens": 1000,
                    "completion_tokens": 100,
                    "prompt_tokens_details": {"cached_tokens": 800},
                }
            }
            judge = {
                "judge": "openai/gpt-4o",
                "resolved_model": "gpt-4o",
                "label": "5",
                "value": 5,
                "usage": {"input_tokens": 400, "output_tokens": 20, "latency_ms": 300.0 + k},
            }
            results.append(
                SampleResult(
                    subject="alpha",
                    sample_id=sample,
                    epoch=0,
                    output=Output(
                        text="4",
                        model="gpt-4o-mini",
                        usage=Usage(input_tokens=1000, output_tokens=100),
                        latency_ms=500.0 + 100 * k,
                        raw=raw,
                    ),
                    scores=[Score(scorer="rubric", value=5, metadata=judge)],
                )
            )
        store.add_results("run-cost-1", results)
    data = run_json("show", "run-cost-1", "--cost", "--db", db)["costs"]
    groups = {g["role"]: g for g in data["groups"]}
    subject, judge = groups["subject"], groups["judge"]
    per_call = (200 * 0.15 + 800 * 0.075 + 100 * 0.6) / 1e6  # cached at gpt-4o-mini's cached rate
    assert subject["cost"] == pytest.approx(2 * per_call)
    assert subject["cost_by_part"]["cached_input"] == pytest.approx(2 * 800 * 0.075 / 1e6)
    assert subject["latency_ms"][0]["estimate"] == pytest.approx(550.0)
    assert judge["calls"] == 2 and judge["cost"] == pytest.approx(2 * (400 * 2.5 + 20 * 10) / 1e6)


def test_concentration_by_customer_reads_the_root_span_attribute(store):
    from tests.costs.traces import at, llm, new_trace_id, root, save

    spans = []
    for k, (customer, tokens) in enumerate(
        [("acme", 9000), ("acme", 9000), ("globex", 1000), ("initech", 1000)]
    ):
        trace = root(
            new_trace_id(),
            "chat",
            at(k * 1000.0),
            10,
            user=f"u{k}",
            attributes={"customer.id": customer},
        )
        spans += [trace, llm(trace, 0, 5, input_tokens=tokens, output_tokens=0)]
    save(store, spans)
    report = cost_report(store, customers=True, n_resamples=50).concentration
    assert report["customer"]["n"] == 3 and report["user"]["n"] == 4
    assert report["customer"]["top_shares"]["1%"]["estimate"] == pytest.approx(0.9)
    assert "customer" not in cost_report(store, n_resamples=50).concentration


def test_cost_delta_pairs_samples_between_two_runs(tmp_path, build):
    from assay.analyse.run_costs import cost_delta

    db = str(tmp_path / "assay.db")
    with Store(db) as store:
        for run_id, tokens in (("run-a", (1000, 2000, 3000)), ("run-b", (1500, 2400, 3300))):
            store.create_run(build.manifest(run_id), build.samples(), n_planned=3)
            store.add_results(
                run_id,
                [
                    SampleResult(
                        subject="alpha",
                        sample_id=s,
                        epoch=0,
                        output=Output(
                            text="x",
                            model="gpt-4o-mini",
                            usage=Usage(input_tokens=t, output_tokens=0),
                        ),
                        scores=[Score(scorer="exact", value=float(t % 2000 > 0))],
                    )
                    for s, t in zip(("q1", "q2", "q3"), tokens, strict=True)
                ],
            )
        (row,) = cost_delta(store, "run-a", "run-b")
    assert row["n"] == 3 and row["unpaired"] == 0
    assert row["difference"] == pytest.approx((500 + 400 + 300) / 3 * 0.15 / 1e6)
    assert row["low"] < row["difference"] < row["high"]
    assert row["ratio"] == pytest.approx(7200 / 6000)
    # `assay compare` reports the cost delta beside the quality delta (JSON and table).
    data = run_json("compare", "run-a", "run-b", "--db", db, "--json")
    (shown,) = data["cost"]
    assert shown["subject"] == "alpha" and shown["difference"] == pytest.approx(row["difference"])
    text = CliRunner().invoke(cli, ["compare", "run-a", "run-b", "--db", db]).output
    assert "cost per sample, alpha:" in " ".join(text.split()) and "3 samples paired" in text


def test_pages_render_traffic_that_no_price_covers(tmp_path):
    from tests.costs.traces import at, llm, new_trace_id, root, save

    from assay.web import create_app

    with Store(str(tmp_path / "assay.db")) as store:
        spans = []
        for k in range(30):
            trace = root(new_trace_id(), "chat", at(k * 60_000.0), 100, user=f"u{k % 7}")
            spans += [trace, llm(trace, 0, 90, model="sim:unknown@1", output_tokens=10 + k)]
        save(store, spans)
        client = TestClient(create_app(store))
        page = client.get("/costs", params={"target": 1000})
        assert page.status_code == 200 and "have no priced call" in page.text
        assert client.get("/latency").status_code == 200
        data = client.get("/api/costs").json()
        assert data["priced_requests"] == 0 and data["breakdown"]["unpriced_calls"] == {
            "sim:unknown@1": 30
        }
    out = CliRunner().invoke(cli, ["costs", "--db", str(tmp_path / "assay.db")])
    assert out.exit_code == 0, out.output
