"""Evaluation: metrics for classifiers and generators, the harness, the results store, plots."""
