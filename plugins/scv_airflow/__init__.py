"""Airflow operators, hooks, notifiers and links for scv (the logic lives in the scv package)."""
