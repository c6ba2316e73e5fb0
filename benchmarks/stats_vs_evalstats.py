"""assay's paired pass/fail interval against evalstats 0.3.3 on the same simulated data.

Worlds: n paired pass/fail outcomes (n = 20, 50, 200) with 20% or 40% discordant pairs, and
a true difference of 0 or of 30% of the discordance rate, 400 worlds per cell (seed 2026).
For every world both tools compute a 95% interval for p_B − p_A:

* assay: the interval ``assay compare`` prints for pass/fail scores (Tango's score interval,
  consistent with McNemar's exact test; :mod:`assay.analyse.paired_estimators`);
* evalstats: ``evalstats.pairwise_differences(method="auto")``, its default, run in a separate
  virtual environment (``--evalstats-python``, else one created at
  ``~/.cache/assay-evalstats-venv`` with ``pip install evalstats==0.3.3``). When evalstats
  cannot be installed, the benchmark says so and compares with a percentile bootstrap instead.

It prints coverage and mean width per cell and overall, and as its last line the ratio of
assay's mean width to the other's, with both coverages, so the reader sees whether the ratio
is "at equal or better coverage".

    python benchmarks/stats_vs_evalstats.py [--worlds 400] [--evalstats-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

EVALSTATS_VERSION = "0.3.3"
VENV = Path.home() / ".cache" / "assay-evalstats-venv"

RUNNER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from evalstats import pairwise_differences
    data = np.load(sys.argv[1])
    out = []
    for k, (a, b) in enumerate(zip(data["a"], data["b"])):
        r = pairwise_differences(
            np.vstack([a, b]), 0, 1, method="auto", ci=0.95, rng=np.random.default_rng(k)
        )
        # evalstats reports A − B; turn it into B − A.
        out.append([-r.point_diff, -r.ci_high, -r.ci_low, r.test_method])
    json.dump(out, open(sys.argv[2], "w"))
    """
)


def _evalstats_python(given: str | None) -> str | None:
    if given:
        return given
    python = VENV / "bin" / "python"
    if not python.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", f"evalstats=={EVALSTATS_VERSION}"],
                check=True,
                capture_output=True,
            )
        except (subprocess.CalledProcessError, OSError) as error:
            print(f"evalstats could not be installed here ({error}); using a percentile bootstrap")
            return None
    check = subprocess.run(
        [str(python), "-c", "import evalstats; print(evalstats.__version__)"],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        print("evalstats does not import in its environment; using a percentile bootstrap")
        return None
    print(f"evalstats {check.stdout.strip()} in {python}")
    return str(python)


def _worlds(rng: np.random.Generator, n: int, disc: float, shift: float, count: int):
    p_b, p_a = disc * (0.5 + shift / 2), disc * (0.5 - shift / 2)
    cells = rng.multinomial(n, [p_b, p_a, (1 - disc) * 0.6, (1 - disc) * 0.4], size=count)
    a = np.zeros((count, n))
    b = np.zeros((count, n))
    for w, (bo, ao, both, _) in enumerate(cells):
        a[w, bo : bo + ao + both] = 1.0
        b[w, :bo] = 1.0
        b[w, bo + ao : bo + ao + both] = 1.0
    return a, b, p_b - p_a


def _assay(a: np.ndarray, b: np.ndarray) -> list[tuple[float, float]]:
    from assay.analyse.paired_estimators import estimate_group

    out = []
    for x, y in zip(a, b, strict=True):
        i = estimate_group(x, y, None, True, confidence=0.95, alpha=0.05, min_clusters=10).interval
        out.append((i.low, i.high))
    return out


def _percentile(a: np.ndarray, b: np.ndarray, seed: int) -> list[tuple[float, float]]:
    from assay.stats import paired_bootstrap_interval

    return [
        (i.low, i.high)
        for i in (
            paired_bootstrap_interval(x, y, method="percentile", n_resamples=2000, seed=seed)
            for x, y in zip(a, b, strict=True)
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worlds", type=int, default=400)
    parser.add_argument("--evalstats-python", default=os.environ.get("EVALSTATS_PYTHON"))
    args = parser.parse_args()
    other_python = _evalstats_python(args.evalstats_python)
    other_name = "evalstats" if other_python else "percentile bootstrap"
    rng = np.random.default_rng(2026)
    totals = {"assay": [], other_name: []}
    head = f"{'n':>4} {'disc':>5} {'Δ':>6}   {'assay cov':>9} {'width':>6}"
    print(f"{head}   {other_name:>20} cov  width")
    for n in (20, 50, 200):
        for disc in (0.2, 0.4):
            for shift in (0.0, 0.3):
                a, b, delta = _worlds(rng, n, disc, shift, args.worlds)
                ours = _assay(a, b)
                if other_python:
                    with tempfile.TemporaryDirectory() as tmp:
                        np.savez(Path(tmp) / "d.npz", a=a, b=b)
                        script = Path(tmp) / "run.py"
                        script.write_text(RUNNER)
                        data, found = Path(tmp) / "d.npz", Path(tmp) / "o.json"
                        subprocess.run(
                            [other_python, str(script), str(data), str(found)], check=True
                        )
                        theirs = [(r[1], r[2]) for r in json.loads(found.read_text())]
                else:
                    theirs = _percentile(a, b, seed=n)
                row = []
                for name, found in (("assay", ours), (other_name, theirs)):
                    lo, hi = np.array(found).T
                    covered = (lo <= delta + 1e-12) & (delta <= hi + 1e-12)
                    totals[name].append((covered, hi - lo))
                    row.append((covered.mean(), (hi - lo).mean()))
                ours_txt = f"{100 * row[0][0]:>8.1f}% {100 * row[0][1]:>6.1f}"
                theirs_txt = f"{100 * row[1][0]:>19.1f}% {100 * row[1][1]:>6.1f}"
                print(f"{n:>4} {disc:>5.1f} {delta:>+6.3f}   {ours_txt}   {theirs_txt}")
    summary = {}
    for name, parts in totals.items():
        cov = np.concatenate([c for c, _ in parts]).mean()
        width = np.concatenate([w for _, w in parts]).mean()
        summary[name] = (cov, width)
        print(f"overall {name}: coverage {100 * cov:.1f}%, mean width {100 * width:.1f} pts")
    (c_ours, w_ours), (c_other, w_other) = summary["assay"], summary[other_name]
    relation = "equal or better" if c_ours >= c_other - 0.005 else "LOWER"
    print(
        f"width ratio assay/{other_name} = {w_ours / w_other:.3f} at {relation} coverage "
        f"(assay {100 * c_ours:.1f}% vs {100 * c_other:.1f}%)"
    )


if __name__ == "__main__":
    main()
