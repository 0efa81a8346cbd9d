"""``python -m scv.bench --people 10000,100000``: see :mod:`scv.bench`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from scv.config import PROJECT_ROOT


def parse_sizes(text: str) -> list[int]:
    """``"10000,100_000,1e6"`` -> ``[10000, 100000, 1000000]`` (sorted, distinct, positive)."""
    sizes = set()
    for part in text.split(","):
        part = part.strip().replace("_", "")
        if not part:
            continue
        value = int(float(part))
        if value < 1:
            raise argparse.ArgumentTypeError(f"population sizes must be positive, got {part!r}")
        sizes.add(value)
    if not sizes:
        raise argparse.ArgumentTypeError("no population size given")
    return sorted(sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scv.bench", description="scv benchmark: speed, memory, accuracy")
    parser.add_argument("--people", type=parse_sizes, default=[10_000, 100_000, 1_000_000],
                        help="comma-separated population sizes (default 10000,100000,1000000)")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "benchmarks"), help="results folder")
    parser.add_argument("--work", default=os.path.join(os.environ.get("SCV_ARTIFACTS_DIR", str(PROJECT_ROOT / "artifacts")), "bench"),
                        help="scratch folder for the generated data and lakehouses (deleted per size)")
    parser.add_argument("--driver-memory", default=os.environ.get("SCV_DRIVER_MEMORY", "8g"))
    parser.add_argument("--baselines", default="splink_spark,splink_duckdb",
                        help="comma-separated: splink_spark, splink_duckdb, or 'none'")
    parser.add_argument("--no-incremental", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; do not touch --out")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    baselines = () if args.baselines.strip() == "none" else tuple(b.strip() for b in args.baselines.split(",") if b.strip())
    unknown = set(baselines) - {"splink_spark", "splink_duckdb"}
    if unknown:
        parser.error(f"unknown baselines {sorted(unknown)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "splink", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from scv.bench.runner import run_benchmark

    run_benchmark(args.people, out_dir=args.out, work_root=args.work, driver_memory=args.driver_memory,
                  baselines=baselines, incremental=not args.no_incremental, seed=args.seed, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
