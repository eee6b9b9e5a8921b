"""The ensemble classifier: the weighted mean of other classifiers' probabilities."""

from .plugin import Ensemble, EnsembleConfig

__all__ = ["Ensemble", "EnsembleConfig"]
