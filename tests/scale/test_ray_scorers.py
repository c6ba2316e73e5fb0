"""CPU-bound scorers on Ray actors (``--executor ray``): the same stored scores as a local run,
a killed worker loses nothing, and an interrupted run resumes without duplicates.

The embedding extra is not installed on this machine, so the scorer is a user's ``python``
function (the issue allows either); it burns a little CPU per call so a run lasts long enough
to be killed in the middle. The local Ray cluster (a head and one worker node, one CPU each)
is started once for the folder (conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

ray = pytest.importorskip("ray")

from assay.cli import app  # noqa: E402
from assay.run import Runner, RunOptions, eval_from_yaml_text, run_async  # noqa: E402
from assay.store import Store  # noqa: E402

N_SAMPLES = 60

CHECKS = '''
import hashlib
import time


def graded(sample, output):
    """A deterministic grade that costs CPU (about 20 ms): a chain of hashes of the output."""
    digest = (output.text + "|" + sample.target).encode()
    until = time.perf_counter() + 0.02
    rounds = 0
    while time.perf_counter() < until or rounds < 200:
        digest = hashlib.sha256(digest).digest()
        rounds += 1
    return (len(output.text) % 7) / 6, f"length {len(output.text)}"
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "ray_scoring_checks.py").write_text(CHECKS)
    return tmp_path


def spec(n: int = N_SAMPLES) -> str:
    samples = "\n".join(
        f"    - {{id: s{i:03d}, input: 'question {i}', target: 'answer {i % 5}'}}" for i in range(n)
    )
    return textwrap.dedent(
        """\
        name: ray-scorers
        dataset:
          samples:
        {samples}
        subjects:
          - {{name: sim, model: sim/atlas-large}}
        scorers:
          - {{python: 'ray_scoring_checks:graded'}}
          - exact
        """
    ).format(samples=samples)


def build(project: Path, n: int = N_SAMPLES):
    return eval_from_yaml_text(spec(n), base_dir=project)


def stored(store: Store, run_id: str) -> dict[tuple[str, str, int], list[tuple]]:
    return {
        (r.subject, r.sample_id, r.epoch): [(s.scorer, s.value, s.explanation) for s in r.scores]
        for r in store.iter_results(run_id)
    }


def keys(store: Store, run_id: str) -> Counter:
    return Counter((r.subject, r.sample_id, r.epoch) for r in store.iter_results(run_id))


@pytest.fixture(scope="module")
def local_scores(tmp_path_factory) -> dict:
    project = tmp_path_factory.mktemp("local")
    (project / "ray_scoring_checks.py").write_text(CHECKS)
    store = Store(str(project / "local.db"))
    outcome = asyncio.run(run_async(build(project), db=store))
    assert outcome.status == "completed" and outcome.n_errors == 0
    found = stored(store, outcome.run_id)
    store.close()
    assert len(found) == N_SAMPLES
    return found


def ray_options(cluster, workers: int = 2) -> RunOptions:
    return RunOptions(executor="ray", ray_address=cluster.address, workers=workers)


async def wait_for(runner: Runner, done: int, timeout: float = 60) -> None:
    began = time.monotonic()
    while runner.accounting.done < done:
        assert time.monotonic() - began < timeout, "the run made no progress"
        await asyncio.sleep(0.02)


async def test_killing_a_worker_mid_run_loses_nothing(connected, project, local_scores):
    cluster = connected
    store = Store(str(project / "killed.db"))
    runner = Runner(build(project), store, options=ray_options(cluster))
    task = asyncio.create_task(runner.run())
    await wait_for(runner, 10)
    pool = runner.offload.pool
    assert pool is not None
    victim = (await asyncio.to_thread(pool.pids))[0]
    done_at_kill = runner.accounting.done
    os.kill(victim, signal.SIGKILL)
    restarted = (await asyncio.to_thread(pool.pids))[0]  # Ray started the actor again
    outcome = await task
    assert done_at_kill < N_SAMPLES and restarted != victim
    assert outcome.status == "completed" and outcome.n_errors == 0, outcome.error_classes
    # Every score is the local run's (a lost call would be an error score), stored once.
    assert stored(store, outcome.run_id) == local_scores
    assert set(keys(store, outcome.run_id).values()) == {1}
    # The python scorer ran on the actors, the exact scorer (cheap) here; the manifest and the
    # spec hash are those of a local run, so either executor can resume the other's run.
    assert [type(s).__name__ == "RayScorer" for s in runner.offload.scorers] == [True, False]
    assert [s.name for s in outcome.manifest.scorers] == ["graded", "exact"]
    assert runner.offload.pool is None  # the actors were ended with the run
    store.close()


async def test_an_interrupted_ray_run_resumes_without_duplicates(connected, project, local_scores):
    cluster = connected
    store = Store(str(project / "resumed.db"))
    first = Runner(build(project), store, options=ray_options(cluster))
    task = asyncio.create_task(first.run())
    await wait_for(first, 20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.get_run(first.run_id).status == "interrupted"
    kept = keys(store, first.run_id)
    assert 20 <= sum(kept.values()) < N_SAMPLES

    second = Runner(
        build(project), store, run_id=first.run_id, resume=True, options=ray_options(cluster)
    )
    outcome = await second.run()
    assert outcome.status == "completed" and outcome.n_errors == 0
    assert second.accounting.skipped == sum(kept.values())  # stored results were not redone
    counts = keys(store, first.run_id)
    assert len(counts) == N_SAMPLES and set(counts.values()) == {1}
    assert stored(store, first.run_id) == local_scores
    store.close()


def test_assay_run_executor_ray_from_the_command_line(disconnected, project, local_scores):
    cluster = disconnected
    path = project / "eval.yaml"
    path.write_text(spec())
    db = str(project / "cli.db")
    args = ["run", str(path), "--db", db, "--executor", "ray", "--ray-address", cluster.address]
    result = CliRunner().invoke(app, [*args, "--workers", "2"])
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        [run] = store.list_runs()
        assert stored(store, run.id) == local_scores
    assert not ray.is_initialized()  # the connection the command opened was closed
