"""spark-submit / Databricks entry point for the scv job `score_propensity` (see scv.jobs)."""

import sys

from scv.jobs.entrypoint import main

if __name__ == "__main__":
    sys.exit(main("score_propensity"))
