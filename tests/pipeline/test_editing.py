"""Editing the faces of a photo: detect, align, crop, edit, carry the change back at full
resolution and paste it into the photo, blended at the crop's border."""

import numpy as np
import pytest

from fexlab.pipeline.editing import edit_photo, feather_mask, paste_back
from fexlab.registry import InputError
from tests.landmark_detector import DotsDetector
from tests.stargan_tiny import tiny_stargan


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (200, 300, 3)).astype(np.uint8)


def test_every_face_is_edited_in_every_emotion_at_crop_resolution(photo):
    result = edit_photo(photo, tiny_stargan(), DotsDetector(), ["happy", "sad"])
    assert len(result.faces) == 2 and result.emotions == ["happy", "sad"]
    assert result.faces[0].box[0] < result.faces[1].box[0]  # left to right
    for face in result.faces:
        side = face.crop.shape[0]
        assert side > 16  # the crop keeps the photo's resolution, not the editor's 16 px
        assert set(face.edits) == {"happy", "sad"}
        assert all(e.shape == face.crop.shape for e in face.edits.values())
        assert not np.array_equal(face.edits["happy"], face.edits["sad"])
    assert set(result.photos) == {"happy", "sad"}
    assert all(p.shape == photo.shape for p in result.photos.values())


def test_pasting_back_changes_the_faces_and_nothing_far_from_them(photo):
    result = edit_photo(photo, tiny_stargan(), DotsDetector(), ["angry"], align=False)
    edited = result.photos["angry"]
    changed = np.abs(edited.astype(int) - photo.astype(int)).sum(axis=2) > 0
    for face in result.faces:
        x, y, w, h = (int(v) for v in face.box)
        assert changed[y + h // 3: y + 2 * h // 3, x + w // 3: x + 2 * w // 3].mean() > 0.5
    assert not changed[-15:, :].any()  # below both faces: untouched


def test_gray_editor_changes_only_the_luma_of_a_colour_photo():
    photo = np.zeros((200, 300, 3), np.uint8)
    photo[..., 0], photo[..., 1], photo[..., 2] = 200, 120, 80  # skin-like colour everywhere
    result = edit_photo(photo, tiny_stargan(), DotsDetector(), ["surprise"])
    import cv2

    before, after = (cv2.cvtColor(p, cv2.COLOR_RGB2YCrCb).astype(int) for p in (photo, result.photos["surprise"]))
    assert np.abs(after[..., 0] - before[..., 0]).max() > 5
    chroma = np.abs(after[..., 1:] - before[..., 1:])
    assert np.percentile(chroma, 99) <= 12  # colour kept (up to clipping of the luma)


def test_identity_edit_of_a_closed_mask_leaves_the_photo_as_it_was(photo):
    import torch

    editor = tiny_stargan()
    with torch.no_grad():
        editor.torch_module().generator.attention.bias.fill_(-60.0)
        editor.torch_module().generator.attention.weight.zero_()
    result = edit_photo(photo, editor, DotsDetector(), ["happy"], align=False)
    assert np.abs(result.photos["happy"].astype(int) - photo.astype(int)).max() <= 2


def test_feather_mask_is_one_inside_and_fades_to_the_border():
    mask = feather_mask(40)
    assert mask.shape == (40, 40) and mask[20, 20] == pytest.approx(1.0)
    assert mask[0, 20] < 0.1 and mask[20, 0] < 0.1
    assert np.all(np.diff(mask[20, :20]) >= 0)


def test_a_photo_without_faces_and_a_generator_that_cannot_edit_are_clear_errors(photo, registry):
    class NoFaces(DotsDetector):
        def detect(self, image):
            return []

    with pytest.raises(InputError, match="no face found"):
        edit_photo(photo, tiny_stargan(), NoFaces(), ["happy"])
    with pytest.raises(InputError, match="does not edit faces"):
        edit_photo(photo, registry.generator("facs_renderer"), DotsDetector(), ["happy"])
    with pytest.raises(InputError):
        edit_photo(photo, tiny_stargan(), DotsDetector(), ["smug"])


def test_paste_back_of_an_unchanged_rotated_crop_gives_the_photo_back():
    """Crop (eyes levelled: the dots' eyes are level, so tilt the photo's keypoints) and paste
    back without an edit: a smooth photo comes back within resampling error."""
    yy, xx = np.mgrid[0:200, 0:300]
    photo = np.stack([xx * 0.8, yy, (xx + yy) * 0.4], axis=2).astype(np.uint8)

    class Tilted(DotsDetector):
        def detect(self, image):
            faces = super().detect(image)
            for face in faces:
                face.landmarks["left_eye"] = (face.landmarks["left_eye"][0], face.landmarks["left_eye"][1] + 8)
            return faces

    result = edit_photo(photo, tiny_stargan(), Tilted(), ["fear"], align=True)
    face = result.faces[0]
    assert abs(face.matrix[0, 1]) > 0.05  # the crop is rotated
    same = paste_back(photo, face, face.crop)
    assert np.abs(same.astype(int) - photo.astype(int)).mean() < 1.0


@pytest.mark.parametrize("editor", ["tiny", "shipped"])
def test_strength_0_gives_the_photo_back_and_more_strength_changes_more(editor, registry):
    from fexlab.preprocessing.images import load_image
    from tests.conftest import EXAMPLES

    if editor == "tiny":
        generator, detector, photo = tiny_stargan(), DotsDetector(), np.random.default_rng(1).integers(
            0, 255, (200, 300, 3)).astype(np.uint8)
    else:
        generator, detector = registry.generator("stargan"), registry.detector("blazeface")
        photo = load_image(EXAMPLES / "two_people.jpg")
    unchanged = edit_photo(photo, generator, detector, ["angry", "surprise"], strength=0.0)
    assert all(p.tobytes() == photo.tobytes() for p in unchanged.photos.values())
    assert all(np.array_equal(face.edits[e], face.crop) for face in unchanged.faces for e in unchanged.emotions)
    changes = []
    for strength in (0.25, 0.5, 0.75, 1.0):
        result = edit_photo(photo, generator, detector, ["angry", "surprise"], strength=strength)
        changes.append([np.abs(result.photos[e].astype(int) - photo.astype(int)).mean() for e in result.emotions])
    for weaker, stronger in zip(changes, changes[1:]):
        assert all(b > a for a, b in zip(weaker, stronger)), changes


def test_strength_0_for_an_editor_that_takes_strength_as_its_own_option(photo):
    from fexlab.registry import Generator
    from tests.flat_generator import Flat

    class Brighten(Generator):
        """An editor like sd_lora: draws from the face, ``strength`` its own option."""

        name = "brighten"
        config_class = Flat.config_class
        requires_weights = False
        options = {"image": None, "strength": 0.6}

        def generate(self, emotions, seed=None, **options):
            from PIL import Image

            face = np.asarray(options["image"], np.float32)
            return [Image.fromarray(np.clip(face + 100 * options["strength"], 0, 255).astype(np.uint8))
                    for _ in emotions]

    editor = Brighten.from_config(Flat.config_class())
    unchanged = edit_photo(photo, editor, DotsDetector(), ["happy"], strength=0.0)
    assert unchanged.photos["happy"].tobytes() == photo.tobytes()
    weak, strong = (edit_photo(photo, editor, DotsDetector(), ["happy"], strength=s).photos["happy"]
                    for s in (0.3, 0.9))
    assert 0 < np.abs(weak.astype(int) - photo).mean() < np.abs(strong.astype(int) - photo).mean()
    with pytest.raises(InputError, match="strength must be between 0 and 1, got 1.5"):
        edit_photo(photo, editor, DotsDetector(), ["happy"], strength=1.5)


def test_a_region_an_editor_of_whole_photos_finds_no_face_in_is_skipped_and_the_largest_face_animated(
        registry, astronaut_path):
    """A detector's box on a T-shirt: mesh_warp edits the real face, leaves the box as it is and
    says so, and the animation is of the real face, not of the first box from the left."""
    from fexlab.pipeline.editing import animate_face
    from fexlab.preprocessing.images import load_image
    from fexlab.registry import Face

    image = load_image(astronaut_path)
    real = max(registry.detector("blazeface").detect(image), key=lambda f: f.box[2] * f.box[3])
    shirt = Face((0.0, image.shape[0] - 60.0, 50.0, 50.0), 0.9, None)  # left of the face: the first from the left

    class WithShirt(DotsDetector):
        def detect(self, image):
            return [real, shirt]

    editor = registry.generator("mesh_warp")
    result = edit_photo(image, editor, WithShirt(), ["surprise"], align=False)
    assert len(result.faces) == 1 and result.skipped == [shirt.box] and result.largest() == 0
    assert not np.array_equal(result.faces[0].edits["surprise"], result.faces[0].crop)
    animation = animate_face(result, editor, frames=2)
    assert len(animation.frames) == 2
    with pytest.raises(InputError, match="there is no face 2"):
        animate_face(result, editor, 1, frames=2)


def test_a_photo_with_more_faces_than_one_edit_takes_says_how_many_were_edited(photo):
    result = edit_photo(photo, tiny_stargan(), DotsDetector(), ["happy"], max_faces=1)
    assert len(result.faces) == 1 and result.found == 2
    assert result.limit_note() == "2 faces found, the 1 largest edited"
    assert edit_photo(photo, tiny_stargan(), DotsDetector(), ["happy"]).limit_note() == ""
