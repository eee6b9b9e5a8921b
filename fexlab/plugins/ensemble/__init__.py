"""The ensemble classifier: the weighted mean of other classifiers' probabilities."""

from .plugin import Ensemble, EnsembleConfig, weighted_mean

__all__ = ["Ensemble", "EnsembleConfig", "weighted_mean"]
