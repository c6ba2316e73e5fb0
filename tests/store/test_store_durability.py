"""A process killed mid-run loses nothing it committed, and never leaves half a batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from assay.store import Store
from assay.store.tables import scores

BATCH = 64

WRITER = """
import sys
from assay.core import Output, SampleResult, Score
from assay.store import Store

store = Store(sys.argv[1])
store.resume_run("run-kill")  # this process now owns the run
batch = 0
while True:
    store.add_results(
        "run-kill",
        [
            SampleResult(
                subject="alpha",
                sample_id=f"b{batch:05d}-{i:02d}",
                output=Output(text="x" * 300, raw={"n": i}),
                scores=[Score(scorer="exact", value=1.0), Score(scorer="len", value=300.0)],
            )
            for i in range(64)
        ],
    )
    print(batch, flush=True)  # only after the commit returned
    batch += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_keeps_every_committed_batch(tmp_path: Path, build, subprocess_env) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    with Store(url) as store:
        store.create_run(build.manifest("run-kill"), [], n_planned=10**6)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)

    writer = subprocess.Popen(
        [sys.executable, str(script), url],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acknowledged: list[int] = []
    assert writer.stdout is not None
    for line in writer.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) >= 40:
            break
    if not acknowledged:  # pragma: no cover - the writer failed to start
        pytest.fail(writer.stderr.read() if writer.stderr else "writer printed nothing")
    os.kill(writer.pid, signal.SIGKILL)  # while it is writing the next batches
    rest, _ = writer.communicate(timeout=60)
    acknowledged += [int(line) for line in rest.split()]
    assert writer.returncode == -signal.SIGKILL
    assert acknowledged == list(range(len(acknowledged)))

    with Store(url) as store:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            n_scores = conn.execute(
                select(func.count()).select_from(scores).where(scores.c.run_id == "run-kill")
            ).scalar_one()
        stored = list(store.iter_results("run-kill"))
        per_batch = Counter(int(r.sample_id[1:6]) for r in stored)
        # every acknowledged batch is there, complete; at most one more committed but unprinted
        assert set(acknowledged) <= set(per_batch)
        assert max(per_batch) <= max(acknowledged) + 1
        assert set(per_batch.values()) == {BATCH}  # whole batches only
        assert n_scores == 2 * len(stored)
        assert all(r.output is not None and r.output.text == "x" * 300 for r in stored)
        info = store.get_run("run-kill")
        assert info.n_results == len(stored) >= 40 * BATCH
        assert info.status == "interrupted"  # its owner, the writer, is dead
