"""Names and kinds of the customer feature columns (pure Python: no Spark needed).

Column names are stable API: ``gold/customer_features`` has one column per name returned by
:func:`feature_columns`, and the propensity models reference them by name. A product group ``g``
contributes ``g_<feature>`` columns next to the overall ones; adding a group adds columns, it
never renames existing ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

KEY_COLUMNS = ("customer_id", "as_of_date")

# What each kind of feature column is, as the models see it.
COUNT, AMOUNT, RECENCY, SHARE, DATE = "count", "amount", "recency", "share", "date"
_KIND_PATTERNS = (
    (re.compile(r"(^|_)(purchases|page_views|add_to_cart)_\d+d$"), COUNT),
    (re.compile(r"(^|_)spend_\d+d$"), AMOUNT),
    (re.compile(r"(^|_)days_since_last_purchase$"), RECENCY),
    (re.compile(r"(^|_)(store|web)_share_\d+d$"), SHARE),
    (re.compile(r"(^|_)last_purchase_date$"), DATE),
)


class GroupLike(Protocol):
    """Anything with a ``name`` and product ``categories`` (e.g. ``scv.propensity.ProductGroup``)."""

    name: str
    categories: Sequence[str]


@dataclass(frozen=True)
class FeatureSpec:
    """Feature windows in days.

    Purchase counts and spend are computed over every window in ``windows_days``; web
    engagement (page views, add-to-cart) over ``engagement_window_days``; the channel mix over
    the longest purchase window. Recency and last purchase dates look at the whole history.
    """

    windows_days: tuple[int, ...] = (30, 90, 365)
    engagement_window_days: int = 30

    def __post_init__(self) -> None:
        if not self.windows_days or min(self.windows_days) < 1 or self.engagement_window_days < 1:
            raise ValueError("feature windows must be positive numbers of days")

    @property
    def mix_window_days(self) -> int:
        return max(self.windows_days)


def overall_columns(spec: FeatureSpec) -> list[str]:
    cols = [f"purchases_{w}d" for w in spec.windows_days] + [f"spend_{w}d" for w in spec.windows_days]
    cols += ["last_purchase_date", "days_since_last_purchase"]
    cols += [f"store_share_{spec.mix_window_days}d", f"web_share_{spec.mix_window_days}d"]
    cols += [f"page_views_{spec.engagement_window_days}d", f"add_to_cart_{spec.engagement_window_days}d"]
    return cols


def group_columns(group: str, spec: FeatureSpec) -> list[str]:
    cols = [f"purchases_{w}d" for w in spec.windows_days] + [f"spend_{w}d" for w in spec.windows_days]
    cols += ["last_purchase_date", "days_since_last_purchase"]
    cols += [f"page_views_{spec.engagement_window_days}d", f"add_to_cart_{spec.engagement_window_days}d"]
    return [f"{group}_{c}" for c in cols]


def feature_columns(groups: Iterable[GroupLike], spec: FeatureSpec) -> list[str]:
    """Every feature column, in table order (keys excluded). Raises on a name clash."""
    cols = overall_columns(spec)
    for group in groups:
        cols += group_columns(group.name, spec)
    clashes = sorted({c for c in cols if cols.count(c) > 1})
    if clashes:
        raise ValueError(f"product group names produce clashing feature columns: {', '.join(clashes)}")
    return cols


def feature_kind(column: str) -> str | None:
    """``count``, ``amount``, ``recency``, ``share`` or ``date`` for a feature column, else None."""
    for pattern, kind in _KIND_PATTERNS:
        if pattern.search(column):
            return kind
    return None


def model_input_columns(columns: Iterable[str]) -> list[str]:
    """The numeric feature columns among ``columns`` (dates and keys are not model inputs)."""
    return [c for c in columns if c not in KEY_COLUMNS and feature_kind(c) not in (None, DATE)]
