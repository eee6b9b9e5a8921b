"""Classifier.embed: the judge's feature space is the pooled input of the classification head."""

from dataclasses import dataclass

import numpy as np
import torch

from fexlab.registry import Classifier, InputSpec


@dataclass
class _Config:
    size: int = 8
    hidden: int = 5


class TwoLayer(Classifier):
    """Flatten -> Linear -> ReLU -> Linear: the embedding is the ReLU output."""

    name = "two_layer"
    config_class = _Config
    batch_size = 3  # several batches for 7 faces

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        torch.manual_seed(0)
        side, hidden = self.config.size, self.config.hidden
        self.net = torch.nn.Sequential(
            torch.nn.Flatten(), torch.nn.Linear(3 * side * side, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 7)
        )

    def torch_module(self):
        return self.net

    def input_spec(self):
        return InputSpec(self.config.size)


def _faces(n, side=8, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, side, side, 3), dtype=np.uint8))


def test_default_embedding_is_the_input_of_the_last_weighted_layer():
    clf = TwoLayer()
    faces = _faces(7)
    with torch.no_grad():
        hidden = clf.net[:3](torch.from_numpy(clf.to_array(faces))).numpy()
    got = clf.embed(faces)
    assert got.shape == (7, 5)
    np.testing.assert_allclose(got, hidden, rtol=1e-5, atol=1e-6)
    # the hooks are removed afterwards: the module has none left and predictions are unchanged
    assert all(not m._forward_pre_hooks for m in clf.net.modules())
    np.testing.assert_allclose(clf.predict_logits(faces), clf.net(torch.from_numpy(clf.to_array(faces))).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_mini_xception_embedding_is_the_pooled_output_of_its_last_block():
    from fexlab.plugins.mini_xception import MiniXception

    clf = MiniXception.from_config()
    faces = _faces(4, side=48)
    net = clf.torch_module()
    with torch.no_grad():
        x = torch.from_numpy(clf.to_array(faces))
        x = torch.relu(net.bn2(net.conv2(torch.relu(net.bn1(net.conv1(x))))))
        pooled = net.blocks(x).mean(dim=(2, 3)).numpy()
    got = clf.embed(faces)
    assert got.shape == (4, 128)
    np.testing.assert_allclose(got, pooled, rtol=1e-5, atol=1e-6)
