"""The blendshape cache: it resumes and skips the faces it holds, photos are cropped by the detector
first (a photo without a face is kept as no mesh), and the mesh reader finds a real face, at full
size and at FER2013's 48 px, and no face in a blank crop."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fexlab.plugins.face_mesh.blendshapes import ARKIT_NAMES
from fexlab.plugins.geometry.cache import BlendshapeCache, build_cache, image_files
from fexlab.plugins.geometry.features import MeshFeatures
from fexlab.registry import Face


class CountingReader:
    """A stand-in for the mesh: a face's blendshapes are its mean brightness; dark crops have no mesh."""

    def __init__(self):
        self.read_faces = 0

    def read(self, crops):
        self.read_faces += len(crops)
        out = MeshFeatures.empty(len(crops))
        for i, crop in enumerate(crops):
            level = float(np.asarray(crop).mean()) / 255.0
            out.found[i] = level > 0.1
            out.presence[i] = level
            if out.found[i]:
                out.blendshapes[i] = level
        return out


def _write_images(folder, levels):
    folder.mkdir(parents=True, exist_ok=True)
    for i, level in enumerate(levels):
        cv2.imwrite(str(folder / f"face_{i}.png"), np.full((48, 48, 3), level, np.uint8))


def test_cache_resumes_and_skips_the_faces_it_holds(tmp_path):
    _write_images(tmp_path / "data" / "crops", [10, 100, 200, 250, 150])
    jobs = [(key, False) for key in image_files(tmp_path / "data", "crops")]
    out, reader = tmp_path / "cache" / "mesh.npz", CountingReader()
    lines = []
    build_cache(out, tmp_path / "data", jobs, reader=reader, flush=2, limit=3, log=lines.append)
    assert reader.read_faces == 3 and len(BlendshapeCache.load(out)) == 3  # written as it went
    cache = build_cache(out, tmp_path / "data", jobs, reader=reader, flush=2, log=lines.append)
    assert reader.read_faces == 5, "the second run reads only the two faces the first left"
    assert "3 faces already cached; 2 to read" in lines
    assert sorted(cache.keys) == sorted(key for key, _ in jobs)
    loaded = BlendshapeCache.load(out)
    features, held = loaded.lookup(["crops/face_0.png", "crops/face_2.png", "crops/missing.png"])
    assert held.tolist() == [True, True, False]
    assert features.found.tolist() == [False, True, False]  # the dark face has no mesh
    assert features.blendshapes[1, 0] == pytest.approx(200 / 255, abs=1e-3)
    build_cache(out, tmp_path / "data", jobs, reader=reader, log=lines.append)
    assert reader.read_faces == 5 and not list(out.parent.glob("*.tmp*"))


def test_photos_are_cropped_by_the_detector_and_a_photo_without_a_face_has_no_mesh(tmp_path):
    _write_images(tmp_path / "data" / "photos", [200, 200])

    class OneFaceInTheFirst:
        def detect(self, image):
            return [Face((4, 4, 20, 20), 0.9, None)] if self.calls == 0 else []

    class Detector(OneFaceInTheFirst):
        calls = 0

        def detect(self, image):
            found = super().detect(image)
            self.calls += 1
            return found

    reader = CountingReader()
    jobs = [(key, True) for key in image_files(tmp_path / "data", "photos")]
    cache = build_cache(tmp_path / "c.npz", tmp_path / "data", jobs, reader=reader, detector=Detector(), margin=0.0,
                        log=lambda line: None)
    assert reader.read_faces == 1 and cache.features.found.tolist() == [True, False]


def test_the_mesh_reads_a_real_face_and_finds_none_in_a_blank_crop(reader, astronaut_crop):
    small = cv2.resize(astronaut_crop, (48, 48))  # as small as a FER2013 face
    features = reader.read([astronaut_crop, small, np.full((48, 48, 3), 128, np.uint8)])
    assert features.found.tolist() == [True, True, False]
    smile = features.blendshapes[:2, ARKIT_NAMES.index("mouthSmileLeft")]
    assert (smile > 0.3).all(), "the astronaut smiles, at full size and at 48 px"
    assert np.abs(features.pose[:2]).max() < 40 and features.points[0].min() >= -0.5
