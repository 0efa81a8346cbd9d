"""Command line: ``python -m scv.generate --landing DIR --people N [--seed S]
[--run-date YYYY-MM-DD] [--day-index K] [--new-record-fraction F] [--workers W]``.

Writes one delivery and prints its :class:`~scv.generate.GenerationSummary` as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from scv.generate import generate_landing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scv.generate",
        description="Write one delivery of the sample landing zone; print its summary as JSON.")
    parser.add_argument("--landing", required=True, help="landing zone root folder")
    parser.add_argument("--people", type=int, required=True, help="population size (day 0)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--run-date", type=date.fromisoformat, default=date(2026, 11, 22),
                        help="delivery date, YYYY-MM-DD (default 2026-11-22)")
    parser.add_argument("--day-index", type=int, default=0,
                        help="0 = initial full load, k = the k-th daily delivery")
    parser.add_argument("--new-record-fraction", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: up to 2); never changes the output")
    args = parser.parse_args(argv)
    summary = generate_landing(args.landing, args.people, seed=args.seed, run_date=args.run_date,
                               day_index=args.day_index,
                               new_record_fraction=args.new_record_fraction,
                               workers=args.workers)
    json.dump(summary.as_dict(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
