"""Scale-out: the same work on this machine or on a Ray cluster (``pip install "assay[ray]"``).

>>> from assay.scale import make_executor
>>> with make_executor("ray", ray_address="head:6379") as executor:  # or workers=4, locally
...     report = scan_corpus(index, ["s3-mount/train/"], executor=executor)

Two kinds of work scale out, each through one seam:

* corpus scans (:func:`assay.data.contamination.scan_corpus`): an :class:`Executor` maps the
  per-shard function over work units; the ``ray`` one shares the eval index through the object
  store and runs shards as retried tasks, and results merge in corpus order, so the report is
  the one the local scan gives, row for row;
* CPU-bound scorers in a run (:func:`offload_scorers`): ``python`` and ``embedding`` scorers run
  on a pool of restartable Ray actors, while model calls stay on the async runner.

Importing this package does not import Ray; choosing the ``ray`` executor does.
"""

from assay.scale.executor import (
    EXECUTORS,
    Executor,
    LocalExecutor,
    check_executor_options,
    make_executor,
)
from assay.scale.scorers import (
    CPU_BOUND_KINDS,
    Offload,
    RayScorer,
    ScorerPool,
    offload_scorers,
    runs_on_actors,
)

__all__ = [
    "CPU_BOUND_KINDS",
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "Offload",
    "RayScorer",
    "ScorerPool",
    "check_executor_options",
    "make_executor",
    "offload_scorers",
    "runs_on_actors",
]
