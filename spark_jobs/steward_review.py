"""spark-submit / Databricks entry point for the scv job `steward_review` (see scv.jobs)."""

import sys

from scv.jobs.entrypoint import main

if __name__ == "__main__":
    sys.exit(main("steward_review"))
