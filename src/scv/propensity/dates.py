"""Which features date a scoring run is for (pure Python, used by the scoring DAG's first task)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any


def resolve_as_of_date(
    explicit: str | None,
    logical_date: dt.datetime | dt.date | None,
    upstream: Iterable[tuple[Mapping[str, Any] | None, dt.datetime | dt.date | None]] = (),
) -> str:
    """The ISO date to score, or ``""`` for "the latest date in gold/customer_features".

    In order: an ``explicit`` date (a run parameter); the run's own ``logical_date`` (manual and
    test runs); else, for asset-triggered runs (which have no logical date), the newest date among
    the triggering features events, each given as ``(extra, logical date of the producing run)``:
    an ``as_of_date`` in the event's extra wins over the producing run's logical date.
    """
    if explicit and str(explicit).strip() not in ("", "None", "null"):
        return dt.date.fromisoformat(str(explicit).strip()[:10]).isoformat()
    if logical_date is not None:
        return (logical_date.date() if isinstance(logical_date, dt.datetime) else logical_date).isoformat()
    dates = []
    for extra, source_logical_date in upstream:
        if extra and extra.get("as_of_date"):
            dates.append(dt.date.fromisoformat(str(extra["as_of_date"])[:10]))
        elif source_logical_date is not None:
            value = source_logical_date
            dates.append(value.date() if isinstance(value, dt.datetime) else value)
    return max(dates).isoformat() if dates else ""
