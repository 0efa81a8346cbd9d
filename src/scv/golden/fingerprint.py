"""Input fingerprints of golden rows: which customers an incremental ``build_golden`` must restage.

A customer's golden rows (every definition's analytics and personal row, and its cross-reference
rows) are a function of that customer's records alone, plus a few run-wide inputs. So each row
carries ``_input_fingerprint``: a SHA-256 over

* the **run digest** (:func:`run_digest`): the survivorship definitions as parsed, the source of
  the code that turns records into golden rows, and a check value of the HMAC key (a digest of a
  constant under the key, never the key), so a changed definition, rule implementation or key
  changes every fingerprint, which restages every customer;
* the customer's records, sorted by ``record_id``: every column survivorship, the record flags,
  the cross-reference and pseudonymisation read (:data:`SILVER_INPUT_COLUMNS`,
  :data:`ASSIGNMENT_INPUT_COLUMNS`), and nothing else (no ``_``-prefixed bookkeeping column).

Nothing depends on the run date. The suppression list is the one input that is not per customer:
:func:`suppression_changed` compares each published row's ``is_suppressed`` with what the current
list says of its (published, still valid) keyed hashes instead.

Comparing with what gold holds, rather than with what the previous run did, makes the
incremental build self-healing: a run whose gate failed never published, so its changes are
still differences the next run finds; a customer missing from a gold table (an interrupted
publish, a row deleted by hand) is restaged.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import marshal
from collections.abc import Iterable, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from scv.golden.policy import GOLDEN_ATTRIBUTES, SurvivorshipPolicy
from scv.golden.pseudonymise import suppressed_customers

FINGERPRINT_COLUMN = "_input_fingerprint"
# Every silver/person_records column the golden build reads (survivorship, record flags,
# cross-reference); the build reads silver through this projection, so nothing else can matter.
SILVER_INPUT_COLUMNS = (
    "record_id",
    "source_system",
    "source_record_id",
    *GOLDEN_ATTRIBUTES,
    "updated_at",
    "precedence",
    "is_linkable",
    "is_company",
)
# Every silver/record_customer column the golden build reads.
ASSIGNMENT_INPUT_COLUMNS = (
    "record_id",
    "customer_id",
    "match_probability_min",
    "match_probability_max",
    "cluster_size",
    "model_version",
)
# The code that maps records to golden rows: editing it changes the run digest.
LOGIC_MODULES = (
    "scv.golden.policy",
    "scv.golden.survivorship",
    "scv.golden.pseudonymise",
    "scv.golden.fingerprint",
    "scv.jobs.golden",
)
LOGIC_FUNCTIONS = (
    ("scv.privacy.keyed_hash", "keyed_hash"),
    ("scv.privacy.suppression", "email_key_column"),
    ("scv.privacy.suppression", "phone_key_column"),
)
KEY_CHECK_MESSAGE = b"scv golden input fingerprint key check"


def golden_inputs(silver: DataFrame, assignment: DataFrame) -> DataFrame:
    """The records the golden build works on: silver's input columns with their customer's
    assignment (records without one are not in any golden table)."""
    return silver.select(*SILVER_INPUT_COLUMNS).join(assignment.select(*ASSIGNMENT_INPUT_COLUMNS), "record_id", "inner")


def _module_text(name: str) -> bytes:
    spec = importlib.util.find_spec(name)
    loader = spec.loader if spec is not None else None
    source = loader.get_source(name) if loader is not None and hasattr(loader, "get_source") else None
    if source is not None:
        return source.encode("utf-8")
    # A deployment shipping bytecode only: the compiled code object is as good a witness.
    return marshal.dumps(loader.get_code(name))


def logic_digest() -> str:
    """SHA-256 of the source of :data:`LOGIC_MODULES` and :data:`LOGIC_FUNCTIONS`."""
    digest = hashlib.sha256()
    for name in LOGIC_MODULES:
        digest.update(name.encode() + b"\0" + _module_text(name) + b"\0")
    for module, function in LOGIC_FUNCTIONS:
        source = inspect.getsource(getattr(importlib.import_module(module), function))
        digest.update(f"{module}.{function}".encode() + b"\0" + source.encode("utf-8") + b"\0")
    return digest.hexdigest()


def run_digest(policies: Sequence[SurvivorshipPolicy], key: bytes) -> str:
    """The run-wide part of every fingerprint: definitions, logic and the key's check value."""
    import hmac

    key_check = hmac.new(key, KEY_CHECK_MESSAGE, hashlib.sha256).hexdigest()
    definitions = "\n".join(repr(p) for p in sorted(policies, key=lambda p: p.table))
    return hashlib.sha256("\0".join((definitions, logic_digest(), key_check)).encode("utf-8")).hexdigest()


def customer_fingerprints(inputs: DataFrame, digest: str) -> DataFrame:
    """(``customer_id``, ``_input_fingerprint``) of every customer of :func:`golden_inputs`."""
    values = sorted(c for c in inputs.columns if c not in ("record_id", "customer_id"))
    record = F.struct(F.col("record_id"), *[F.col(c) for c in values])
    return inputs.groupBy("customer_id").agg(
        F.sha2(F.concat(F.lit(digest), F.to_json(F.array_sort(F.collect_list(record)))), 256).alias(FINGERPRINT_COLUMN)
    )


def suppression_changed(published: DataFrame, suppression: DataFrame | None) -> DataFrame:
    """``customer_id`` of the published analytics rows whose ``is_suppressed`` the current
    suppression list contradicts (an entry added or removed for their email or phone hash)."""
    rows = published.select("customer_id", "email_hmac", "phone_hmac", "is_suppressed")
    if suppression is None:
        return rows.where(F.col("is_suppressed")).select("customer_id")
    hits = suppressed_customers(rows, suppression).withColumn("_listed", F.lit(True))
    now = rows.join(hits, "customer_id", "left").withColumn("_listed", F.coalesce("_listed", F.lit(False)))
    return now.where(F.col("_listed") != F.col("is_suppressed")).select("customer_id")


def fingerprint_mismatches(expected: DataFrame, published: DataFrame, keys: Iterable[str] = ("customer_id",)) -> DataFrame:
    """``customer_id`` of ``expected`` rows (keys, ``customer_id``, fingerprint) that ``published``
    does not hold with the same customer and fingerprint (missing, moved, or stale)."""
    columns = list(dict.fromkeys([*keys, "customer_id", FINGERPRINT_COLUMN]))
    return expected.select(*columns).join(published.select(*columns), columns, "left_anti").select("customer_id")
