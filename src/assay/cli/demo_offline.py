"""The offline part of ``assay demo``: the two prompt versions, the pairwise judge, the judge
audit, and the verdict last.

The judge audit (the wordier system's run, then the audit battery) is most of the part's CPU,
and almost a second of it is importing statsmodels and scikit-learn. Nothing after it needs
its result but the printing. So when a second core is idle, the demo forks a helper at its start
(:func:`_helper_wanted`): the helper imports those libraries while the prompt runs go on,
starts its runs only once the pairwise judge run is stored (the runs keep their order, so
``latest~N`` names the same runs), and hands its output back; the demo prints it in its place,
having computed the verdict meanwhile. The output, the runs and their order are those of one
process (``ASSAY_DEMO_HELPER=0``; ``=1`` forks whatever the load), which
``tests/cli/test_demo.py`` checks.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from assay.core import AssayError


@dataclass
class OfflineDemo:
    """The ids the demo's closing hint names."""

    run_a: str
    run_b: str
    judge_run: str
    certificate: str


def _twin(console: Console) -> Console:
    """A console that renders as ``console`` does (width, colours), into a string."""
    return Console(
        file=io.StringIO(),
        width=console.width,
        color_system=console.color_system,  # type: ignore[arg-type]
        force_terminal=console.is_terminal,
        no_color=console.no_color,
        highlight=True,
    )


def demo_audit(
    store: Any,
    directory: Path,
    run_id: str,
    console: Console,
    err_console: Console,
    *,
    progress: bool = True,
) -> str:
    """Run the wordier system, then audit the demo judge against the two systems' answers;
    its planted length bias shows as raw vs length-controlled. Returns the certificate's id."""
    from assay.audit.battery import AuditConfig, audit_judge
    from assay.cli.audit_commands import certificate_view
    from assay.cli.demo import DEMO_AUDIT_SAMPLES
    from assay.cli.judge_commands import context_from_spec
    from assay.cli.progress import LazyProgress
    from assay.run import load_eval
    from assay.run import run as run_eval

    def bar(name: str) -> Any:
        return LazyProgress(err_console, name) if progress else None

    wordy_spec = directory / "eval_wordy.yaml"
    judge_spec = directory / "judge.yaml"
    context, lineage = context_from_spec(judge_spec)
    shown = bar(wordy_spec.name)
    try:
        wordy = run_eval(load_eval(wordy_spec), db=store, on_progress=shown)
    finally:
        if shown is not None:
            shown.close()
    err_console.print(
        f"\n$ assay run {wordy_spec}\n$ assay audit judge --judge sim/demo-judge "
        f"--spec {judge_spec} --runs {run_id} --runs {wordy.run_id} "
        f"--max-samples {DEMO_AUDIT_SAMPLES}"
    )
    config = AuditConfig(
        judge="sim/demo-judge",
        runs=[run_id, wordy.run_id],
        context=context,
        lineage=lineage,
        max_samples=DEMO_AUDIT_SAMPLES,
    )
    shown = bar("audit sim/demo-judge")
    try:
        result = audit_judge(store, config, progress=shown)
    finally:
        if shown is not None:
            shown.close()
    console.print(certificate_view(result.certificate))
    return str(result.certificate.id)


def _prewarm() -> None:
    """Import what the audit needs while the prompt runs go on in the demo's process:
    statsmodels (Cohen's kappa of the position check) and scikit-learn (the length-controlled
    fit), about 0.9 s of CPU together."""
    import sklearn.linear_model
    import sklearn.model_selection  # noqa: F401
    import statsmodels.stats.inter_rater  # noqa: F401

    import assay.audit.battery
    import assay.cli.audit_commands  # noqa: F401


def _read_all(fd: int) -> bytes:
    """Everything until end-of-file; closes ``fd``."""
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _helper_wanted() -> bool:
    """Whether to fork the audit helper: ``ASSAY_DEMO_HELPER=1`` always, ``0`` never, by
    default when a second core is idle (a load average below the number of cores minus one);
    on a busy machine a second process only competes for the same core. Never where
    ``os.fork`` is missing or another thread runs (a fork copies no thread but its caller,
    and a lock another thread held would stay held in the helper)."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    asked = os.environ.get("ASSAY_DEMO_HELPER", "")
    if asked in ("0", "1"):
        return asked == "1"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2 and os.getloadavg()[0] <= (cores or 1) - 1


class AuditHelper:
    """The forked helper that runs the demo's judge audit (see the module docstring)."""

    def __init__(self, pid: int, go: int, result: int) -> None:
        self.pid, self._go, self._result = pid, go, result

    @classmethod
    def start(
        cls, store_url: str, directory: Path, console: Console, err_console: Console
    ) -> AuditHelper | None:
        """Fork the helper; None when :func:`_helper_wanted` says no: the demo then audits in
        its own process. Call it before opening the store (a SQLite connection must not be
        open across a fork); the helper opens ``store_url`` itself when its turn comes."""
        if not _helper_wanted():
            return None
        # What both processes run (the runner, the providers, the scorers) is imported once,
        # before the fork: the helper then imports only what the audit alone needs.
        import assay.analyse.summary_cache
        import assay.cli.judge_commands
        import assay.run.runner
        import assay.run.spec  # noqa: F401

        go_read, go_write = os.pipe()
        result_read, result_write = os.pipe()
        out, err = _twin(console), _twin(err_console)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the helper: never returns
            os.close(go_write)
            os.close(result_read)
            code = 1
            try:
                reply = _helper(store_url, directory, go_read, out, err)
                code = 0
            except BaseException:  # reported to the demo, which raises it
                reply = {"error": traceback.format_exc()}
            with contextlib.suppress(BaseException):
                os.write(result_write, json.dumps(reply).encode())
                os.close(result_write)
            os._exit(code)
        os.close(go_read)
        os.close(result_write)
        return cls(pid, go_write, result_read)

    def go(self, run_id: str) -> None:
        """Start the audit of ``run_id`` (prompt v2) against the wordier system."""
        fd, self._go = self._go, -1
        try:  # a helper that already failed has said why: finish() reports it
            with contextlib.suppress(BrokenPipeError):
                os.write(fd, json.dumps({"run_id": run_id}).encode())
        finally:
            os.close(fd)

    def finish(self, console: Console, err_console: Console) -> str:
        """Wait for the helper, print its output, return the certificate's id."""
        fd, self._result = self._result, -1
        reply = json.loads(_read_all(fd) or b"{}")
        self._reap()
        if "certificate" not in reply:
            raise AssayError(
                "the demo's judge audit failed in its helper process:\n"
                + reply.get("error", "it exited without a result"),
                where="assay demo",
                fix="run it again with ASSAY_DEMO_HELPER=0 to audit in one process",
            )
        err_console.file.write(reply["err"])
        err_console.file.flush()
        console.file.write(reply["out"])
        console.file.flush()
        return str(reply["certificate"])

    def _reap(self) -> None:
        if self.pid:
            pid, self.pid = self.pid, 0
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def abandon(self) -> None:
        """After an error (a no-op once finished): the helper reads end-of-file instead of a
        run id, or its reply is drained, and it is reaped."""
        if self._go >= 0:
            os.close(self._go)
            self._go = -1
        if self._result >= 0:
            fd, self._result = self._result, -1
            with contextlib.suppress(OSError):
                _read_all(fd)
        self._reap()


def _helper(store_url: str, directory: Path, go: int, out: Console, err: Console) -> dict[str, str]:
    from assay.store import Store

    _prewarm()
    message = _read_all(go)
    if not message:  # the demo stopped before its pairwise run
        return {"error": "the demo stopped before the audit"}
    run_id = json.loads(message)["run_id"]
    # Its own store: the demo forked before opening one, so no SQLite connection crossed the
    # fork (https://www.sqlite.org/howtocorrupt.html, section 2.6).
    store = Store(store_url)
    try:
        certificate = demo_audit(store, directory, run_id, out, err, progress=False)
    finally:
        store.close()
    return {
        "certificate": certificate,
        "out": out.file.getvalue(),  # type: ignore[attr-defined]
        "err": err.file.getvalue(),  # type: ignore[attr-defined]
    }


def run_offline_demo(
    store: Any,
    directory: Path,
    specs: list[Path],
    console: Console,
    err_console: Console,
    helper: AuditHelper | None,
) -> OfflineDemo:
    """Run both prompt versions, judge them pairwise, audit the judge (in ``helper`` when
    given, else here), and end on the verdict: the diff, the paired comparison and one line
    on what to conclude."""
    from assay.analyse import compare_runs, diff_manifests
    from assay.analyse.run_labels import set_run_tags
    from assay.analyse.summary_cache import show_summary
    from assay.cli.demo import demo_conclusion
    from assay.cli.judge_commands import context_from_spec, pairwise_view, run_pairwise
    from assay.cli.progress import LazyProgress
    from assay.cli.render import diff_view, summary_tables
    from assay.cli.render_stats import comparison_view
    from assay.run import load_eval
    from assay.run import run as run_eval

    outcomes = []
    for spec in specs:
        ev = load_eval(spec)
        progress = LazyProgress(err_console, spec.name)
        try:
            outcomes.append(run_eval(ev, db=store, on_progress=progress))
        finally:
            progress.close()
        version = spec.stem.removeprefix("eval_")  # the prompt version: v1, v2
        set_run_tags(store, outcomes[-1].run_id, [version], None)
        err_console.print(f"$ assay run {spec} --tag {version}")
        # The runner stored the run's summary as it finished: read it, not recompute it.
        console.print(summary_tables(show_summary(store, outcomes[-1].run_id)))
        console.print()
    a, b = outcomes
    judge_spec = directory / "judge.yaml"
    err_console.print(
        f"\n$ assay judge --pairwise {a.run_id} {b.run_id} --judge sim/demo-judge "
        f"--spec {judge_spec}"
    )
    context, lineage = context_from_spec(judge_spec)
    judge_run, report = run_pairwise(
        store, a.run_id, b.run_id, judge="sim/demo-judge", context=context, lineage=lineage
    )
    console.print(pairwise_view(report))
    if helper is not None:
        helper.go(b.run_id)  # the audit's runs start after the pairwise run, as in one process
        changes = diff_manifests(a.manifest, b.manifest)
        comparison = compare_runs(store, a.run_id, b.run_id)
        certificate = helper.finish(console, err_console)
    else:
        certificate = demo_audit(store, directory, b.run_id, console, err_console)
        changes = diff_manifests(a.manifest, b.manifest)
        comparison = compare_runs(store, a.run_id, b.run_id)
    # The end: is prompt v2 better? What changed (the prompt, and only the prompt), the paired
    # comparison, and one line on what to conclude.
    err_console.print(f"\n$ assay diff {a.run_id} {b.run_id}")
    console.print(diff_view(a.manifest, b.manifest, changes))
    err_console.print(f"\n$ assay compare {a.run_id} {b.run_id}")
    console.print(comparison_view(comparison))
    console.print(Text.assemble(("\nIs prompt v2 better? ", "bold"), demo_conclusion(comparison)))
    return OfflineDemo(a.run_id, b.run_id, judge_run, certificate)
