"""Writing one delivery of the landing zone: the public entry point of the generator.

Flow: the population is drawn in one vectorised pass (:mod:`scv.generate.population`); it is
cut into chunks of people; each chunk is rendered (records with mess, ground truth, events)
into sorted part files, optionally by several worker processes; the parts are then merged into
the final files. Person records are merged by last-update time (as a "modified since" export
would be), events are concatenated in chunk order.

Guarantees:
* Deterministic: the files are a pure function of ``(seed, people, run_date, day_index,
  new_record_fraction)``; the number of workers does not change a byte.
* Consistent across deliveries: delivery ``k`` rebuilds day 0's population (anchored at
  ``run_date - k days``) and adds records for the same person ids; record ids of different
  deliveries never clash.
* Atomic per file: each file is written under a temporary name and renamed into place, so a
  reader never sees a half-written file; a run that fails with an exception leaves no part
  files behind (a process killed outright may leave a ``.generate-*`` folder in the landing
  root; readers should ignore dot-folders).
* Bounded memory: rows are streamed to part files per chunk; only the population's compact
  arrays are held for the whole run.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from scv.generate import ids, population, vocab
from scv.generate.events import POS_HEADER, generate_events, history_window
from scv.generate.population import DAY, LOY, NO_SLOT, WEB, Population, build_population, days
from scv.generate.records import (CRM_HEADER, LOYALTY_HEADER, TRUTH_HEADER, RecordRenderer,
                                  RecordSpecs, record_id_strings, specs_from_slots)

CHUNK_PEOPLE = 10_000
PERSON_ID_WIDTH = 8
NEW_PERSON_ID_WIDTH = 6
# A later delivery's new records: this share are brand-new people, the rest are new records of
# existing people, split over these kinds of change.
NEW_PEOPLE_SHARE = 0.4
CHANGE_KINDS = ("moved", "married", "new_email", "consent", "duplicate")
CHANGE_P = (0.25, 0.15, 0.25, 0.20, 0.15)

def landing_files(run_date: date) -> dict[str, str]:
    """Relative path of every file of the delivery for ``run_date`` (docs/data-contracts.md)."""
    d = run_date.strftime("%Y%m%d")
    return {
        "crm": f"crm/crm_contacts_{d}.csv",
        "webshop": f"webshop/webshop_accounts_{d}.jsonl",
        "loyalty": f"loyalty/loyalty_cards_{d}.csv",
        "pos": f"pos/pos_transactions_{d}.csv",
        "web_events": f"web_events/web_events_{d}.jsonl",
        "truth": f"_truth/ground_truth_{d}.csv",
    }


@dataclass(frozen=True)
class GenerationSummary:
    """What one call of :func:`generate_landing` wrote.

    ``records`` counts data rows (headers excluded) per file key: crm, webshop, loyalty, pos,
    web_events, truth. ``people`` is the number of distinct persons with a record in this
    delivery; ``new_people`` how many of them were first seen in it (all of them on day 0).
    ``population`` is the day-0 population size the delivery belongs to. ``extras`` (later
    deliveries only) counts the existing people given a new record, by kind of change.
    ``elapsed_seconds`` is wall time, the only field that is not a function of the arguments.
    """

    run_date: date
    day_index: int
    seed: int
    population: int
    people: int
    new_people: int
    records: dict[str, int]
    files: dict[str, str]
    elapsed_seconds: float = 0.0
    extras: dict[str, int] = field(default_factory=dict)

    @property
    def person_records(self) -> int:
        return self.records["crm"] + self.records["webshop"] + self.records["loyalty"]

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["run_date"] = self.run_date.isoformat()
        out["person_records"] = self.person_records
        return out


@dataclass
class _ChunkJob:
    """Everything one worker needs to render one chunk; picklable."""

    seed: int
    day_index: int
    chunk: int
    pop: Population
    specs: RecordSpecs
    slot_source: np.ndarray
    slot_created: np.ndarray
    slot_serial: np.ndarray
    window_start: date
    n_days: int
    tmpdir: str
    pid_prefix: str
    pid_width: int


def _slot_id_strings(slot_source: np.ndarray, slot_serial: np.ndarray, seed: int) -> np.ndarray:
    """The landing-file id of every (person, slot): card numbers, account ids, "" for CRM."""
    out = np.full(slot_source.shape, "", dtype=object)
    used = (slot_source == WEB) | (slot_source == LOY)
    xs = ids.permute(slot_serial[used], seed, "record-ids")
    out[used] = record_id_strings(slot_source[used], xs, seed)
    return out


def _render_chunk(job: _ChunkJob) -> dict[str, tuple[str, int]]:
    """Render one chunk into part files; returns {file key: (part path, rows)}."""
    r = ids.py_random(job.seed, job.day_index, "records", job.chunk)
    renderer = RecordRenderer(job.pop, r, job.seed, job.day_index, job.pid_prefix, job.pid_width)
    rendered = renderer.render(job.specs)
    out: dict[str, tuple[str, int]] = {}
    for source, (data, truth) in rendered.items():
        # Sorted by the fixed-width key: the merge below then yields time order.
        data.sort()
        truth.sort()
        out[source] = (_write_part(job, source, data), len(data))
        out[f"truth_{source}"] = (_write_part(job, f"truth_{source}", truth), len(truth))
    slot_ids = _slot_id_strings(job.slot_source, job.slot_serial, job.seed)
    pos, web = generate_events(
        job.pop, job.slot_source, job.slot_created, slot_ids, job.window_start, job.n_days,
        ids.stream(job.seed, job.day_index, "events", job.chunk),
        id_prefix=f"{job.day_index:04d}{job.chunk:05d}")
    out["pos"] = (_write_part(job, "pos", pos), len(pos))
    out["web_events"] = (_write_part(job, "web_events", web), len(web))
    return out


def _write_part(job: _ChunkJob, name: str, lines: list[str]) -> str:
    path = os.path.join(job.tmpdir, f"{name}.{job.chunk:05d}.part")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.writelines(lines)
    return path


def _merge_sorted(parts: list[str], dest, key_width: int) -> None:
    """k-way merge of key-prefixed sorted part files, writing lines without their key."""
    files = [open(p, encoding="utf-8", newline="") for p in parts]
    try:
        for line in heapq.merge(*files):
            dest.write(line[key_width:])
    finally:
        for f in files:
            f.close()


def _concat(parts: list[str], dest) -> None:
    for p in parts:
        with open(p, encoding="utf-8", newline="") as f:
            shutil.copyfileobj(f, dest, 1 << 20)


class _AtomicFile:
    """Write to ``path`` via a temporary sibling renamed into place on success."""

    def __init__(self, path: Path):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.tmp, "w", encoding="utf-8", newline="")
        return self.f

    def __exit__(self, exc_type, exc, tb):
        self.f.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False


def _day0_jobs(pop: Population, seed: int, anchor: date, tmpdir: str) -> Iterator[_ChunkJob]:
    """Chunks of the initial load, built lazily (one chunk's specs in memory at a time)."""
    window_start, n_days = history_window(anchor)
    for chunk, start in enumerate(range(0, len(pop), CHUNK_PEOPLE)):
        part = pop.take(slice(start, start + CHUNK_PEOPLE))
        serial = part.key[:, None] * ids.MAX_RECORD_SLOTS + np.arange(ids.MAX_RECORD_SLOTS)
        specs = specs_from_slots(part, lambda keys, slot: keys * ids.MAX_RECORD_SLOTS + slot)
        yield _ChunkJob(seed, 0, chunk, part, specs, part.slot_source, part.slot_created,
                        serial, window_start, n_days, tmpdir, "P", PERSON_ID_WIDTH)


def _fresh_emails(rng: np.random.Generator, pop: Population, rows: np.ndarray,
                  taken: set[str]) -> list[str]:
    """New addresses for people who changed e-mail, none of them already in use."""
    out = []
    for r in rows.tolist():
        country = vocab.COUNTRIES[int(pop.country[r])]
        domains = vocab.EMAIL_DOMAINS[country]
        while True:
            dom = domains[int(rng.integers(len(domains)))][0]
            pattern = int(rng.integers(len(vocab.EMAIL_PATTERNS)))
            number = int(rng.integers(100, 100_000))
            local = population.email_local(pattern, vocab.FIRST_NAMES[int(pop.first[r])],
                                           vocab.LAST_NAMES[int(pop.last[r])], number,
                                           int(rng.integers(len(vocab.HANDLE_WORDS))))
            address = f"{local}@{dom}"
            if population.canonical_email(address) not in taken:
                taken.add(population.canonical_email(address))
                out.append(address)
                break
    return out


def _later_day_jobs(pop: Population, seed: int, people: int, run_date: date, day_index: int,
                    fraction: float, tmpdir: str
                    ) -> tuple[Iterator[_ChunkJob], int, dict[str, int]]:
    """Chunks of a daily delivery: day-k events for everyone, new records for a sample of
    existing people (with a change), and a last chunk of brand-new people."""
    rng = ids.stream(seed, day_index, "delivery")
    t_hi = days(run_date) * DAY
    t_lo = t_hi - DAY
    window_start = run_date - timedelta(days=1)
    target = max(1, int(round(fraction * int(pop.n_rec.sum()))))
    base = ids.serial_base(people, day_index)

    # Brand-new people first: their record count decides how many existing people get one.
    n_new = int(round(target * NEW_PEOPLE_SHARE / 1.15))
    new_pop = None
    taken = population.email_keys(pop)
    if n_new > 0:
        new_pop = build_population(
            seed, n_new, run_date, day_index=day_index, singles_only=True,
            reserved_emails=taken,
            reserved_phones=population.phone_keys(pop), slot_window=(t_lo, t_hi))
    new_records = int(new_pop.n_rec.sum()) if new_pop is not None else 0
    n_exist = max(0, target - new_records)
    candidates = np.flatnonzero(~pop.is_company)
    chosen = np.sort(rng.choice(candidates, size=min(n_exist, len(candidates)), replace=False))

    # Apply each chosen person's change to a copy of their row.
    changed = pop.take(chosen)
    kind = rng.choice(len(CHANGE_KINDS), size=len(chosen), p=CHANGE_P)
    age_days = days(run_date) - changed.dob
    eligible = (changed.sex == 0) & (age_days > 20 * 365) & (age_days < 60 * 365)
    married = (kind == CHANGE_KINDS.index("married")) & eligible
    kind[(kind == CHANGE_KINDS.index("married")) & ~eligible] = CHANGE_KINDS.index("new_email")
    also_moved = married & (rng.random(len(chosen)) < 0.4)
    moved = (kind == CHANGE_KINDS.index("moved")) | also_moved
    if moved.any():
        rows = np.flatnonzero(moved)
        fresh = population._addresses(rng, changed.country[rows])
        keep_city = rng.random(len(rows)) < 0.5
        fresh["city"] = np.where(keep_city, changed.city[rows], fresh["city"])
        for f, v in fresh.items():
            getattr(changed, f)[rows] = v
        changed.landline[rows] = 0
    if married.any():
        rows = np.flatnonzero(married)
        new_last = population._last_names(rng, changed.country[rows])
        same = new_last == changed.last[rows]
        new_last[same] = population._last_names(rng, changed.country[rows][same])
        changed.last[rows] = new_last
    new_email = (kind == CHANGE_KINDS.index("new_email")) | (
        married & (rng.random(len(chosen)) < 0.5))
    if new_email.any():
        rows = np.flatnonzero(new_email)
        taken |= population.email_keys(new_pop) if new_pop is not None else set()
        changed.email1[rows] = _fresh_emails(rng, changed, rows, taken)
        changed.email2[rows] = None
    flip = kind == CHANGE_KINDS.index("consent")
    changed.consent[flip] = ~changed.consent[flip]
    duplicate = kind == CHANGE_KINDS.index("duplicate")
    source = rng.choice(3, size=len(chosen), p=(0.25, 0.40, 0.35)).astype(np.int8)
    source[duplicate] = np.where(rng.random(int(duplicate.sum())) < 0.5, WEB, LOY)
    created = t_lo + (rng.random(len(chosen)) * DAY).astype(np.int64)
    serial = base + np.arange(len(chosen), dtype=np.int64)
    earlier_web = (changed.slot_source == WEB).sum(axis=1)

    # Today's state of the changed people replaces their day-0 rows (``pop`` is this
    # delivery's working copy; day 0's files are not rewritten).
    for f in dataclasses.fields(Population):
        getattr(pop, f.name)[chosen] = getattr(changed, f.name)

    chunk_of = chosen // CHUNK_PEOPLE
    n_chunks = -(-len(pop) // CHUNK_PEOPLE)

    def jobs() -> Iterator[_ChunkJob]:
        for chunk in range(n_chunks):
            start = chunk * CHUNK_PEOPLE
            part = pop.take(slice(start, start + CHUNK_PEOPLE))
            sel = np.flatnonzero(chunk_of == chunk)
            local = chosen[sel] - start
            specs = RecordSpecs(
                person=local, source=source[sel], created=created[sel], updated=created[sel],
                consent=changed.consent[sel], old_state=np.zeros(len(sel), dtype=bool),
                serial=serial[sel],
                web_ordinal=(10 * day_index + earlier_web[sel]).astype(np.int64))
            # Event slots: the four day-0 slots plus today's new record.
            n = len(part)
            s_src = np.concatenate([part.slot_source, np.full((n, 1), NO_SLOT, np.int8)], axis=1)
            s_created = np.concatenate([part.slot_created, np.zeros((n, 1), np.int64)], axis=1)
            s_serial = np.concatenate([
                part.key[:, None] * ids.MAX_RECORD_SLOTS + np.arange(ids.MAX_RECORD_SLOTS),
                np.zeros((n, 1), np.int64)], axis=1)
            s_src[local, 4] = source[sel]
            s_created[local, 4] = created[sel]
            s_serial[local, 4] = serial[sel]
            yield _ChunkJob(seed, day_index, chunk, part, specs, s_src, s_created, s_serial,
                            window_start, 1, tmpdir, "P", PERSON_ID_WIDTH)
        if new_pop is not None:
            new_base = base + target
            serial_of = (lambda keys, slot: new_base + keys * ids.MAX_RECORD_SLOTS + slot)
            specs = specs_from_slots(new_pop, serial_of)
            s_serial = serial_of(new_pop.key[:, None], np.arange(ids.MAX_RECORD_SLOTS)[None, :])
            yield _ChunkJob(seed, day_index, n_chunks, new_pop, specs, new_pop.slot_source,
                            new_pop.slot_created, s_serial, window_start, 1, tmpdir,
                            f"P{day_index:04d}N", NEW_PERSON_ID_WIDTH)

    counts = {"existing_people_with_new_record": int(len(chosen)), "new_people": n_new}
    for k, name in enumerate(CHANGE_KINDS):
        counts[f"change_{name}"] = int((kind == k).sum())
    return jobs(), n_chunks + (new_pop is not None), counts


def _run_jobs(jobs: Iterable[_ChunkJob], n_jobs: int,
              workers: int) -> list[dict[str, tuple[str, int]]]:
    """Render all chunks, in order; results are the same whichever process renders them."""
    if workers <= 1 or n_jobs <= 1:
        return [_render_chunk(j) for j in jobs]
    # spawn, not fork: safe inside Airflow workers and other threaded hosts. An executor (not
    # a Pool) so that a worker that dies fails the run instead of hanging it. At most two
    # chunks per worker are in flight, which bounds memory whatever the population size.
    ctx = multiprocessing.get_context("spawn")
    results = []
    jobs = iter(jobs)
    with ProcessPoolExecutor(max_workers=min(workers, n_jobs), mp_context=ctx) as pool:
        pending = collections.deque(pool.submit(_render_chunk, j)
                                    for j in itertools.islice(jobs, 2 * workers))
        while pending:
            results.append(pending.popleft().result())
            job = next(jobs, None)
            if job is not None:
                pending.append(pool.submit(_render_chunk, job))
    return results


def generate_landing(landing_root: str | Path, people: int, seed: int = 42,
                     run_date: date = date(2026, 11, 22), day_index: int = 0,
                     new_record_fraction: float = 0.01, *,
                     workers: int | None = None) -> GenerationSummary:
    """Write one delivery of the landing zone under ``landing_root`` and return its summary.

    ``day_index`` 0 is the initial full load: every person's records (1 to 4 each, 2.5 on
    average) and ~18 months of transactions and web events before ``run_date``. A later
    ``day_index`` k is the daily delivery for ``run_date`` (which should be day 0's run date
    plus k days): about ``new_record_fraction`` x day 0's record count of new records, for
    brand-new people and for existing people who moved, married, changed e-mail or consent or
    opened a duplicate account, plus that day's events. Use the same ``people`` and ``seed``
    for all deliveries of one landing zone.

    Files are overwritten atomically; the same arguments always produce the same bytes.
    ``workers`` (default: up to 2 CPUs) only changes speed.
    """
    if people < 1:
        raise ValueError("people must be at least 1")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    if day_index < 0:
        raise ValueError("day_index must be non-negative")
    if not 0.0 < new_record_fraction <= 0.5:
        raise ValueError("new_record_fraction must be in (0, 0.5]")
    started = time.perf_counter()
    root = Path(landing_root)
    root.mkdir(parents=True, exist_ok=True)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    anchor = run_date - timedelta(days=day_index)
    pop = build_population(seed, people, anchor)

    tmpdir = tempfile.mkdtemp(prefix=".generate-", dir=root)
    try:
        extras: dict[str, int] = {}
        n_jobs = -(-people // CHUNK_PEOPLE)
        if day_index == 0:
            jobs: Iterable[_ChunkJob] = _day0_jobs(pop, seed, anchor, tmpdir)
        else:
            jobs, n_jobs, extras = _later_day_jobs(pop, seed, people, run_date, day_index,
                                                   new_record_fraction, tmpdir)
        results = _run_jobs(jobs, n_jobs, workers)
        del jobs, pop
        # Day 0: everyone has at least one record. Later days: each chosen person gets exactly
        # one new record, and brand-new people at least one.
        n_people = people if day_index == 0 else (
            extras["existing_people_with_new_record"] + extras["new_people"])
        files = landing_files(run_date)
        counts = _assemble(root, files, results)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return GenerationSummary(
        run_date=run_date, day_index=day_index, seed=seed, population=people,
        people=n_people, new_people=people if day_index == 0 else extras["new_people"],
        records=counts, files={k: str(root / v) for k, v in files.items()},
        elapsed_seconds=round(time.perf_counter() - started, 3), extras=extras)


def _assemble(root: Path, files: dict[str, str],
              results: list[dict[str, tuple[str, int]]]) -> dict[str, int]:
    """Merge the chunks' part files into the delivery's files; returns row counts."""
    counts = {k: sum(r[k][1] for r in results) for k in ("crm", "webshop", "loyalty", "pos",
                                                          "web_events")}
    key = RecordRenderer.KEY_WIDTH
    with _AtomicFile(root / files["crm"]) as f:
        f.write(",".join(CRM_HEADER) + "\n")
        _merge_sorted([r["crm"][0] for r in results], f, key)
    with _AtomicFile(root / files["webshop"]) as f:
        _merge_sorted([r["webshop"][0] for r in results], f, key)
    with _AtomicFile(root / files["loyalty"]) as f:
        f.write(";".join(LOYALTY_HEADER) + "\n")
        _merge_sorted([r["loyalty"][0] for r in results], f, key)
    with _AtomicFile(root / files["pos"]) as f:
        f.write(POS_HEADER)
        _concat([r["pos"][0] for r in results], f)
    with _AtomicFile(root / files["web_events"]) as f:
        _concat([r["web_events"][0] for r in results], f)
    with _AtomicFile(root / files["truth"]) as f:
        f.write(",".join(TRUTH_HEADER) + "\n")
        for source in ("crm", "webshop", "loyalty"):
            _merge_sorted([r[f"truth_{source}"][0] for r in results], f, key)
    counts["truth"] = counts["crm"] + counts["webshop"] + counts["loyalty"]
    return counts
