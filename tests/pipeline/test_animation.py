"""Animated export: GIF and WebM files of one identity between emotions, for any generator."""

import cv2
import numpy as np
import pytest
from PIL import Image, ImageSequence

from fexlab.pipeline.animation import animate, morphs, path_emotions, write_gif, write_webm
from fexlab.registry import EMOTIONS, InputError
from tests.cgan_tiny import tiny_cgan
from tests.flat_generator import Flat


@pytest.fixture(scope="module")
def gan():
    return tiny_cgan()


def gif_frames(path):
    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGB"), dtype=int) for frame in ImageSequence.Iterator(image)]


def webm_frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB).astype(int))
    capture.release()
    return frames


def faces(generator, emotions, seed):
    return [np.asarray(image, dtype=int) for image in generator.generate(emotions, seed=seed)]


def closer_to(frame, this, other):
    return np.abs(frame - this).mean() < np.abs(frame - other).mean()


def test_an_interpolation_is_written_as_gif_and_webm_that_start_and_end_on_the_two_faces(gan, tmp_path):
    animation = animate(gan, ["neutral", "happy"], seed=3, frames=6)
    assert animation.morphed and morphs(gan) and len(animation.frames) == 6
    gif, webm = animation.save(tmp_path / "cgan_neutral-happy_seed3", fps=8)
    assert (gif.name, webm.name) == ("cgan_neutral-happy_seed3.gif", "cgan_neutral-happy_seed3.webm")
    start, end = faces(gan, ["neutral", "happy"], 3)
    with Image.open(gif) as image:
        assert image.info["loop"] == 0 and image.info["duration"] == 120  # 1/8 s, in the format's hundredths
    for frames in (gif_frames(gif), webm_frames(webm)):
        assert len(frames) == 6 and frames[0].shape == frames[-1].shape == (64, 64, 3)
        assert closer_to(frames[0], start, end) and closer_to(frames[-1], end, start)
    exact = gif_frames(gif)
    assert np.abs(exact[0] - start).mean() < 2 and np.abs(exact[-1] - end).mean() < 2
    assert not np.array_equal(exact[2], exact[0]) and not np.array_equal(exact[2], exact[-1])


def test_one_identity_through_all_seven_emotions_passes_each_at_its_frame(gan, tmp_path):
    animation = animate(gan, path_emotions("all"), seed=5, frames=4)
    assert animation.emotions == list(EMOTIONS) and len(animation.frames) == 6 * 3 + 1
    stops = faces(gan, list(EMOTIONS), 5)
    for k, face in enumerate(stops):  # emotion k is frame 3k
        np.testing.assert_array_equal(np.asarray(animation.frames[3 * k], dtype=int), face)
    gif, webm = animation.save(tmp_path / "all", fps=12)
    assert len(gif_frames(gif)) == len(webm_frames(webm)) == 19
    video = webm_frames(webm)
    assert closer_to(video[0], stops[0], stops[-1]) and closer_to(video[-1], stops[-1], stops[0])


def test_a_generator_without_interpolation_cross_fades_between_the_faces_it_draws(tmp_path):
    flat = Flat.from_config()
    assert not morphs(flat)
    animation = animate(flat, ["angry", "happy", "sad"], seed=10, frames=5)
    assert not animation.morphed and len(animation.frames) == 9
    angry, happy, sad = faces(flat, ["angry", "happy", "sad"], 10)
    frames = [np.asarray(frame, dtype=int) for frame in animation.frames]
    np.testing.assert_array_equal(frames[0], angry)
    np.testing.assert_array_equal(frames[4], happy)
    np.testing.assert_array_equal(frames[8], sad)
    assert np.abs(frames[2] - (angry + happy) / 2).max() <= 1  # halfway: half of each
    two_people = animate(flat, ["happy", "happy"], seed=0, frames=3, end_seed=40)
    np.testing.assert_array_equal(np.asarray(two_people.frames[-1]), np.asarray(flat.generate(["happy"], seed=40)[0]))
    assert (two_people.stem("flat"), animation.stem("flat")) == ("flat_happy-happy_seed0-40", "flat_angry-happy-sad_seed10")
    gif, webm = animation.save(tmp_path / "flat", fps=4)
    assert len(gif_frames(gif)) == len(webm_frames(webm)) == 9 and gif_frames(gif)[0].shape == (24, 24, 3)


@pytest.mark.parametrize("call, message", [
    (lambda g: animate(g, ["happy", "sad"], 0, frames=1), "at least 2 frames"),
    (lambda g: animate(g, ["happy"], 0), "at least two"),
    (lambda g: animate(g, ["happy", "happy"], 0), "starts and ends on the same face"),
    (lambda g: animate(g, ["happy", "sad", "fear"], 0, end_seed=1), "exactly two emotions"),
    (lambda g: animate(g, ["happy", "sad"], 0, steps=3), "no option"),
    (lambda g: path_emotions("interpolate", ["happy", "sad", "fear"]), "give two, got 3"),
    (lambda g: path_emotions("loop"), "one of interpolate, all"),
    (lambda g: path_emotions("all", ["joy!"]), "joy"),
])
def test_bad_requests_are_one_line_errors(call, message):
    with pytest.raises(InputError, match=message):
        call(Flat.from_config())


def test_the_writers_refuse_no_frames_and_rates_out_of_range(tmp_path):
    frames = [Image.new("RGB", (16, 16), (k * 60, 0, 0)) for k in range(3)]
    with pytest.raises(InputError, match="no frames"):
        write_gif([], tmp_path / "a.gif", 8)
    for fps in (0, 51):
        with pytest.raises(InputError, match="between 1 and 50"):
            write_webm(frames, tmp_path / "a.webm", fps)
    assert path_emotions("interpolate") == ["neutral", "happy"]
