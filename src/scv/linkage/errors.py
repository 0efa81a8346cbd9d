"""Errors raised by entity resolution, each naming what to change."""

from __future__ import annotations


class LinkageError(RuntimeError):
    """Base class of entity-resolution failures that a run should not retry."""


class ComparisonBudgetExceeded(LinkageError):
    """Blocking would generate more comparisons than the configured budget.

    Attributes:
        rule: the blocking rule responsible (the largest contributor).
        count: comparisons that rule generates (or that its largest block generates).
        total: comparisons all rules generate together (``None`` if counting was not attempted
            because one block alone is over budget).
        budget: the configured ``comparison_budget``.
        counts: comparisons per rule, marginal to the rules before it, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        rule: str,
        count: int,
        budget: int,
        total: int | None = None,
        counts: dict[str, int] | None = None,
    ):
        super().__init__(message)
        self.rule = rule
        self.count = count
        self.budget = budget
        self.total = total
        self.counts = dict(counts or {})


class ModelColumnMismatch(LinkageError):
    """The data lacks columns that the model file (comparisons, blocking rules) reads.

    Attributes:
        missing: the missing column names, sorted.
        model_path: the model file, when the model came from one.
    """

    def __init__(self, missing: list[str], model_path: str | None, available: list[str]):
        self.missing = sorted(missing)
        self.model_path = model_path
        source = f"model file {model_path}" if model_path else "the linkage model"
        super().__init__(
            f"{source} reads columns missing from the input data: {', '.join(self.missing)}. "
            f"Input columns: {', '.join(sorted(available))}. Retrain the model on the current "
            "silver contract or fix the standardisation output."
        )
