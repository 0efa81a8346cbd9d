"""scv: a single customer view on a Delta lakehouse.

The package holds all logic; Airflow DAGs, operators and Spark entry points are thin layers over
it. Spark sessions are always passed in (see :mod:`scv.spark` for how one is built).
"""

__version__ = "0.1.0"
