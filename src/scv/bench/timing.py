"""Wall time and peak memory per stage, with nested stages counted once.

A stage's *exclusive* time is its wall time minus the time of the stages nested inside it, so
the exclusive times of a run add up to its wall time. ``link_records`` runs prediction,
clustering and the writes of the linkage tables in one job function; the benchmark times the
whole call as ``cluster`` and the prediction call nested inside it (see :func:`instrumented`)
as ``predict``, so ``cluster`` is "everything link_records does after scoring pairs".
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class PeakWatcher(Protocol):
    """What the timer needs from a memory sampler (see :class:`scv.bench.memory.MemorySampler`)."""

    def watch(self) -> int: ...

    def release(self, token: int) -> dict[str, float]: ...


class StageTimer:
    """Accumulates exclusive wall seconds and memory peaks per stage name.

    A stage entered twice (ingest of each source, the gates of each layer) adds up. ``clock``
    is injectable so that the accounting is testable without sleeping.
    """

    def __init__(self, sampler: PeakWatcher | None = None, clock: Callable[[], float] = time.perf_counter):
        self.sampler = sampler
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self.inclusive_seconds: dict[str, float] = {}
        self.peaks: dict[str, dict[str, float]] = {}
        self.details: dict[str, float] = {}
        self._stack: list[list[float]] = []  # per open stage: [nested seconds]
        self.failed_stage: str | None = None  # the innermost stage an exception left

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        token = self.sampler.watch() if self.sampler else None
        started = self.clock()
        self._stack.append([0.0])
        try:
            yield
        except BaseException:
            self.failed_stage = self.failed_stage or name
            raise
        finally:
            elapsed = self.clock() - started
            nested = self._stack.pop()[0]
            if self._stack:
                self._stack[-1][0] += elapsed
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - nested
            self.inclusive_seconds[name] = self.inclusive_seconds.get(name, 0.0) + elapsed
            if token is not None:
                peak = self.sampler.release(token)
                previous = self.peaks.get(name, {})
                self.peaks[name] = {k: max(v, previous.get(k, 0.0)) for k, v in peak.items()}

    @contextmanager
    def detail(self, name: str) -> Iterator[None]:
        """Time a part of the current stage for the record, without moving it to another stage."""
        started = self.clock()
        try:
            yield
        finally:
            self.details[name] = self.details.get(name, 0.0) + self.clock() - started

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

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
