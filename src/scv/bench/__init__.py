"""The benchmark: how long a daily run takes per size of customer base, its memory, its accuracy,
and how its linkage compares with plain Splink on Spark and on DuckDB (issue 10).

    make bench BENCH_PEOPLE=10000,100000
    python -m scv.bench --people 2000,10000 --out docs/benchmarks

- :mod:`scv.bench.pipeline`: the daily DAG's stages through the DAG's own job functions;
- :mod:`scv.bench.timing`: exclusive wall time and memory peaks per stage;
- :mod:`scv.bench.memory`: the Spark driver's memory, sampled (psutil RSS + JVM heap);
- :mod:`scv.bench.baselines`: Splink's tutorial recipe on Spark and on DuckDB;
- :mod:`scv.bench.runner`: one run per size (full, baselines, incremental);
- :mod:`scv.bench.report`: ratios, target checks, tables, JSON, chart, README.
"""
