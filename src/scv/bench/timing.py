"""Wall time and peak memory per stage, with nested stages counted once.

A stage's *exclusive* time is its wall time minus the time of the stages nested inside it, so
the exclusive times of a run whose stages run one after the other add up to its wall time
(stages the DAG runs side by side overlap: see :class:`StageTimer`). ``link_records`` runs prediction,
clustering and the writes of the linkage tables in one job function; the benchmark times the
whole call as ``cluster`` and the prediction call nested inside it (see :func:`instrumented`)
as ``predict``, so ``cluster`` is "everything link_records does after scoring pairs".
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class PeakWatcher(Protocol):
    """What the timer needs from a memory sampler (see :class:`scv.bench.memory.MemorySampler`)."""

    def watch(self) -> int: ...

    def release(self, token: int) -> dict[str, float]: ...


Interval = tuple[float, float]


def _union(intervals: list[Interval]) -> list[Interval]:
    merged: list[list[float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def _measure(intervals: list[Interval]) -> float:
    return sum(end - start for start, end in _union(intervals))


def _subtract(interval: Interval, holes: list[Interval]) -> list[Interval]:
    pieces, cursor = [], interval[0]
    for start, end in _union(holes):
        if start > cursor:
            pieces.append((cursor, min(start, interval[1])))
        cursor = max(cursor, end)
    if cursor < interval[1]:
        pieces.append((cursor, interval[1]))
    return [(a, b) for a, b in pieces if b > a]


class StageTimer:
    """Accumulates exclusive wall seconds and memory peaks per stage name.

    A stage entered twice (ingest of each source, the gates of each layer) adds up. Stages may
    run in several threads at once (the DAG's parallel branches): a stage's seconds are then the
    wall time during which at least one of its calls was running (the union of their intervals,
    nested stages of the same thread taken out), and ``total_seconds`` is the wall time during
    which any stage was running. Run one after the other, the stages' seconds add up to the
    total; run side by side, they add up to more. ``clock`` is injectable so that the accounting
    is testable without sleeping.
    """

    def __init__(self, sampler: PeakWatcher | None = None, clock: Callable[[], float] = time.perf_counter):
        self.sampler = sampler
        self.clock = clock
        self.peaks: dict[str, dict[str, float]] = {}
        self.details: dict[str, float] = {}
        self.failed_stage: str | None = None  # the innermost stage an exception left
        self._exclusive: dict[str, list[Interval]] = {}
        self._inclusive: dict[str, list[Interval]] = {}
        self._outermost: list[Interval] = []
        self._lock = threading.Lock()
        self._local = threading.local()  # per thread: the stack of open stages' nested intervals

    def _stack(self) -> list[list[Interval]]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        token = self.sampler.watch() if self.sampler else None
        stack = self._stack()
        started = self.clock()
        stack.append([])
        try:
            yield
        except BaseException:
            with self._lock:
                self.failed_stage = self.failed_stage or name
            raise
        finally:
            interval = (started, self.clock())
            nested = stack.pop()
            peak = self.sampler.release(token) if token is not None else None
            with self._lock:
                (stack[-1] if stack else self._outermost).append(interval)
                self._exclusive.setdefault(name, []).extend(_subtract(interval, nested))
                self._inclusive.setdefault(name, []).append(interval)
                if peak is not None:
                    previous = self.peaks.get(name, {})
                    self.peaks[name] = {k: max(v, previous.get(k, 0.0)) for k, v in peak.items()}

    @contextmanager
    def detail(self, name: str) -> Iterator[None]:
        """Time a part of the current stage for the record, without moving it to another stage."""
        started = self.clock()
        try:
            yield
        finally:
            elapsed = self.clock() - started
            with self._lock:
                self.details[name] = self.details.get(name, 0.0) + elapsed

    @property
    def seconds(self) -> dict[str, float]:
        with self._lock:
            return {name: _measure(intervals) for name, intervals in self._exclusive.items()}

    @property
    def inclusive_seconds(self) -> dict[str, float]:
        with self._lock:
            return {name: _measure(intervals) for name, intervals in self._inclusive.items()}

    @property
    def total_seconds(self) -> float:
        with self._lock:
            return _measure(self._outermost)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "details_seconds": {k: round(v, 3) for k, v in self.details.items()},
            "total_seconds": round(self.total_seconds, 3),
            "peak_memory_mb": self.peaks,
        }


@contextmanager
def instrumented(module: Any, names: tuple[str, ...], wrap: Callable[[Callable], Callable]) -> Iterator[None]:
    """Replace ``module.<name>`` by ``wrap(original)`` for the duration of the block.

    Used to time calls a job function makes (``scv.jobs.linkage.predict_pairs``) without
    changing the job. A missing name fails loudly: the benchmark must not silently stop
    measuring a stage because a module was refactored.
    """
    originals = {}
    for name in names:
        if not hasattr(module, name):
            raise AttributeError(f"{module.__name__} has no attribute {name!r}: update scv.bench's instrumentation")
        originals[name] = getattr(module, name)
    try:
        for name, original in originals.items():
            setattr(module, name, wrap(original))
        yield
    finally:
        for name, original in originals.items():
            setattr(module, name, original)


def timed_as(timer: StageTimer, stage: str) -> Callable[[Callable], Callable]:
    """A wrapper for :func:`instrumented` that runs each call as the stage ``stage``."""

    def wrap(function: Callable) -> Callable:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            with timer.stage(stage):
                return function(*args, **kwargs)

        return call

    return wrap


def timed_detail(timer: StageTimer, name: str) -> Callable[[Callable], Callable]:
    def wrap(function: Callable) -> Callable:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            with timer.detail(name):
                return function(*args, **kwargs)

        return call

    return wrap
