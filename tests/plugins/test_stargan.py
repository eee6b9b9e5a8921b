"""The stargan plugin: one translator for all emotions, the editing path of the Generator
interface, strength, interpolation, and checkpoints."""

import numpy as np
import pytest
import torch

from fexlab.plugins.stargan import StarGAN
from fexlab.plugins.stargan.model import PatchDiscriminator, StarGANGenerator, total_variation
from fexlab.registry import EMOTIONS, InputError
from tests.stargan_tiny import tiny_stargan


def _face(size=40, seed=0):
    rng = np.random.default_rng(seed)
    face = np.full((size, size, 3), 120, np.uint8)
    face[size // 4: size // 2, size // 5: size // 2] = 30  # an "eye" and some texture
    return np.clip(face + rng.integers(0, 40, face.shape), 0, 255).astype(np.uint8)


def test_generate_without_a_face_is_refused_with_what_to_do():
    with pytest.raises(InputError, match="edits a face.*--image"):
        tiny_stargan().generate(["happy"], seed=0)


def test_each_emotion_is_one_edit_of_the_same_face():
    editor = tiny_stargan()
    edits = [np.asarray(im) for im in editor.generate(list(EMOTIONS), image=_face())]
    assert len(edits) == 7 and all(e.shape == (16, 16, 3) for e in edits)
    assert all(np.array_equal(e[..., 0], e[..., 2]) for e in edits)  # a gray model gives gray RGB
    differences = [np.abs(edits[0].astype(int) - e.astype(int)).mean() for e in edits[1:]]
    assert min(differences) > 0.5  # the condition changes the output
    again = [np.asarray(im) for im in editor.generate(list(EMOTIONS), image=_face())]
    assert all(np.array_equal(a, b) for a, b in zip(edits, again))  # deterministic


def test_attention_mask_closed_returns_the_input_exactly():
    editor = tiny_stargan()
    with torch.no_grad():
        editor.torch_module().generator.attention.bias.fill_(-60.0)
        editor.torch_module().generator.attention.weight.zero_()
    face = editor.to_tensor([_face()])
    out = editor.translate(face.expand(7, -1, -1, -1), torch.eye(7))
    torch.testing.assert_close(out, face.expand(7, -1, -1, -1))


def test_strength_blends_from_the_face_own_emotion_to_the_target():
    editor = tiny_stargan()
    face = editor.to_tensor([_face()])
    source = editor.source_weights(face)[0]
    zero = editor.conditions(face, ["happy"], 0.0)[0]
    half = editor.conditions(face, ["happy"], 0.5)[0]
    torch.testing.assert_close(zero, source)
    torch.testing.assert_close(half, 0.5 * source + 0.5 * torch.eye(7)[EMOTIONS.index("happy")])
    full, weak = (np.asarray(editor.generate(["happy"], image=_face(), strength=s)[0], dtype=float) for s in (1.0, 0.3))
    assert np.abs(full - weak).mean() > 0.1
    with pytest.raises(InputError, match="strength must be between 0 and 1"):
        editor.generate(["happy"], image=_face(), strength=1.5)


def test_interpolation_starts_and_ends_on_the_two_edits():
    editor = tiny_stargan()
    frames = editor.interpolate(("neutral", 0), ("happy", 0), frames=5, image=_face())
    ends = editor.generate(["neutral", "happy"], image=_face())
    assert len(frames) == 5
    np.testing.assert_array_equal(np.asarray(frames[0]), np.asarray(ends[0]))
    np.testing.assert_array_equal(np.asarray(frames[-1]), np.asarray(ends[1]))
    with pytest.raises(InputError, match="edits a face"):
        editor.interpolate(("neutral", 0), ("happy", 0), frames=5)


def test_any_image_mode_and_size_is_read_as_a_face():
    editor = tiny_stargan()
    wide = np.zeros((30, 90), np.uint8)  # gray, not square: the centre square is used
    assert editor.generate(["sad"], image=wide)[0].size == (16, 16)
    from PIL import Image

    assert editor.generate(["sad"], image=Image.fromarray(_face(64)).convert("RGBA"))[0].size == (16, 16)


def test_checkpoint_round_trip_keeps_translator_and_classifier(tmp_path):
    editor = tiny_stargan(3)
    editor.save_pretrained(tmp_path / "ckpt", training_data="tiny test faces")
    loaded = StarGAN.from_pretrained(tmp_path / "ckpt")
    for a, b in zip(editor.generate(["angry", "fear"], image=_face()), loaded.generate(["angry", "fear"], image=_face())):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    face = editor.to_tensor([_face()])
    torch.testing.assert_close(editor.source_weights(face), loaded.source_weights(face))


def test_networks_shapes_at_48_px():
    generator = StarGANGenerator(channels=1, width=4, blocks=1)
    x = torch.zeros(2, 1, 48, 48)
    with torch.no_grad():
        out = generator(x, torch.eye(7)[:2])
    assert out.image.shape == x.shape and out.mask.shape == (2, 1, 48, 48)
    assert float(out.mask.min()) >= 0 and float(out.mask.max()) <= 1
    assert PatchDiscriminator(1, 8)(x).shape == (2, 1, 3, 3)
    assert float(total_variation(torch.ones(1, 1, 8, 8))) == 0.0
    assert float(total_variation(torch.eye(8)[None, None])) > 0.0


def test_the_shipped_translator_is_ready_small_and_carded(registry):
    from fexlab.plugins.stargan.plugin import WEIGHTS_DIR

    assert registry.info("generator", "stargan").status == "ready"
    folder = WEIGHTS_DIR / "fer2013"
    assert (folder / "model.safetensors").stat().st_size < 2 * 2**20
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "FER2013" in card and "FER+" in card and "fexlab train stargan" in card and "fexlab evaluate" in card
    editor = StarGAN.load_default()
    assert "FER+ majority labels" in editor.metadata["training_data"] and not editor.metadata.get("synthetic")
    assert (editor.config.resolution, editor.config.grayscale) == (48, True)
    edits = [np.asarray(im) for im in editor.generate(["happy", "sad"], image=_face(48))]
    assert edits[0].shape == (48, 48, 3) and not np.array_equal(edits[0], edits[1])
