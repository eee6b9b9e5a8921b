"""Evaluation: metrics for classifiers and generators, the harness, the results store, plots.

- :mod:`fexlab.eval.classification`: accuracy, F1, confusion matrices, calibration, bootstrap intervals,
  McNemar's test (scikit-learn, torchmetrics, scipy);
- :mod:`fexlab.eval.generation`: judge-based expression scores, Frechet / kernel distances in the judge's
  feature space (torchmetrics), diversity and identity consistency;
- :mod:`fexlab.eval.editing`: face editors on face crops or whole photos: target accuracy, each target's
  recall beside the judge's on real faces, identity, realism, reconstruction;
- :mod:`fexlab.eval.curves`: training curves from a run's ``metrics.jsonl``;
- :mod:`fexlab.eval.harness`: :func:`~fexlab.eval.harness.evaluate`, the one entry point of ``fexlab evaluate``
  and the app's Evaluate tab;
- :mod:`fexlab.eval.results`: one JSON file per evaluated model and the leaderboard built from them;
- :mod:`fexlab.eval.plots`: matplotlib / seaborn figures.

Submodules are imported on use, so ``import eval`` stays light.
"""
