"""Every Python snippet in the README runs as written, each in a fresh interpreter.

A fresh interpreter matters: the README's example once raised ``'module' object is not
callable`` because ``assay.Eval`` imported the subpackage ``assay.run``, which replaced the
function ``assay.run`` on the package; a test process that had imported things in another
order would not have seen it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SNIPPET = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _snippets() -> list[str]:
    return SNIPPET.findall(README.read_text(encoding="utf-8"))


def _workspace(tmp_path: Path) -> None:
    """What the snippets assume exists: ``data/qa.jsonl`` with question/answer/topic."""
    rows = [
        {"id": "q1", "question": "What is 2 + 2?", "answer": "4", "topic": "maths"},
        {"id": "q2", "question": "Capital of France?", "answer": "Paris", "topic": "geo"},
    ]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "qa.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )


def test_the_readme_has_python_snippets() -> None:
    assert len(_snippets()) >= 2


@pytest.mark.parametrize("index", range(len(_snippets())))
def test_readme_python_snippet_runs(index: int, tmp_path: Path) -> None:
    code = _snippets()[index]
    _workspace(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "ASSAY_DB"},
    )
    assert done.returncode == 0, f"README snippet {index} failed:\n{code}\n{done.stderr[-3000:]}"
