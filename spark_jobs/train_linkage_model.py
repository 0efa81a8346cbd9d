"""spark-submit / Databricks entry point for the scv job `train_linkage_model` (see scv.jobs)."""

import sys

from scv.jobs.entrypoint import main

if __name__ == "__main__":
    sys.exit(main("train_linkage_model"))
