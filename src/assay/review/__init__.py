"""The review queue (annotation queue): draft cases, flagged traces and a run's samples wait
with a rubric for named reviewers, who label them from ``assay review`` or the web UI; labels
triage drafts, score traces, give per-queue inter-rater agreement and are the human labels
``assay audit humans --queue`` reads."""

from assay.review.humans import load_queue_labels
from assay.review.labels import LabelOutcome, check_label, label_item
from assay.review.queue import (
    ITEM_KINDS,
    REVIEWER_ROLES,
    AddReport,
    NewItem,
    ReviewItem,
    ReviewLabel,
    ReviewQueue,
    UnknownReviewRef,
    add_items,
    assign_reviewers,
    create_queue,
    delete_queue,
    get_item,
    get_queue,
    items_for,
    list_queues,
    next_item,
    queue_items,
)
from assay.review.rubric import Rubric, load_rubric, rubric_from_yaml
from assay.review.sources import draft_items, failed_trace_ids, sample_items, trace_items
from assay.review.status import QueueAgreement, queue_agreement, queue_status, summarise

__all__ = [
    "ITEM_KINDS",
    "REVIEWER_ROLES",
    "AddReport",
    "LabelOutcome",
    "NewItem",
    "QueueAgreement",
    "ReviewItem",
    "ReviewLabel",
    "ReviewQueue",
    "Rubric",
    "UnknownReviewRef",
    "add_items",
    "assign_reviewers",
    "check_label",
    "create_queue",
    "delete_queue",
    "draft_items",
    "failed_trace_ids",
    "get_item",
    "get_queue",
    "items_for",
    "label_item",
    "list_queues",
    "load_queue_labels",
    "load_rubric",
    "next_item",
    "queue_agreement",
    "queue_items",
    "queue_status",
    "rubric_from_yaml",
    "sample_items",
    "summarise",
    "trace_items",
]
