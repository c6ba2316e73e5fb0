"""Human labels for ``assay audit humans`` (C8) from a review queue instead of a CSV.

Each label of a ``sample`` item becomes the :class:`~assay.audit.humans.HumanLabel` a CSV row
``sample,rater,label,time`` would: the sample id, the reviewer, the label (a score as a number;
pass/fail as 1/0, as a CSV's ``true``/``false`` would read) and the label's time.
"""

from __future__ import annotations

from assay.audit.humans import HumanLabel
from assay.core import DatasetError
from assay.review.queue import get_queue, queue_items
from assay.store import Store


def load_queue_labels(store: Store, queue: str) -> list[HumanLabel]:
    """The human labels of the queue's run samples, in the form :func:`load_human_labels`
    gives for a CSV. A queue without labelled samples is an error with a fix."""
    info = get_queue(store, queue)
    labels = []
    for item in queue_items(store, queue):
        if item.kind != "sample":
            continue
        for label in item.labels:
            if info.rubric.scale == "pass_fail":
                value: int | float = 1 if label.verdict == "pass" else 0
            else:
                assert label.value is not None
                value = int(label.value) if label.value.is_integer() else label.value
            labels.append(
                HumanLabel(
                    sample=str(item.payload.get("sample_id", item.ref)),
                    rater=label.rater,
                    label=value,
                    time=label.created_at,
                    where=f"queue {queue} item {item.id}",
                )
            )
    if not labels:
        raise DatasetError(
            f"review queue {queue!r} holds no labelled run samples",
            where="--queue",
            fix="add a run's samples with `assay review add QUEUE --run RUN` and label them",
        )
    return labels
