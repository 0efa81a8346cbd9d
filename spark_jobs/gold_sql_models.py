"""spark-submit / Databricks entry point for the scv job `gold_sql_models` (see scv.jobs)."""

import sys

from scv.jobs.entrypoint import main

if __name__ == "__main__":
    sys.exit(main("gold_sql_models"))
