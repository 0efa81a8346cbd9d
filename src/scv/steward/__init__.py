"""Steward review: the labels that override the model, and how much the model agrees with them.

- :mod:`scv.steward.labels`: the ``silver/steward_labels`` table, its CSV inbox and the
  ``scv label`` command's writer; :func:`agreement_with_labels` for precision/recall.
- The review queue itself (uncertain pairs, both records side by side with per-comparison match
  weights) is written by the daily link task (``scv.jobs.linkage``).
"""

from scv.steward.labels import (
    InvalidLabels,
    agreement_with_labels,
    current_labels,
    import_label_inbox,
    label_inbox,
    label_pair,
    labels_path,
    normalise_labels,
    record_labels,
)

__all__ = [
    "InvalidLabels",
    "agreement_with_labels",
    "current_labels",
    "import_label_inbox",
    "label_inbox",
    "label_pair",
    "labels_path",
    "normalise_labels",
    "record_labels",
]
