"""Generators: the procedural renderer draws what the prompt asks (checked on pixels), the command generator
runs a template safely, frames are written as H.264/yuv420p mp4."""

from __future__ import annotations

import json
import sys
import textwrap

import av
import numpy as np
import pytest

from aigve.errors import ConfigError
from aigve.refine.assembly import build_generator
from aigve.refine.generators import CommandGenerator, ProceduralGenerator
from aigve.refine.generators.command import render_command
from aigve.refine.generators.procedural import FLOOR_TOP
from aigve.refine.generators.scene import parse_scene
from aigve.refine.roles import GenerationError, Generator
from aigve.video_writer import to_uint8_frames, write_mp4

BALL = "a red ball bouncing on a wooden floor"
CLEAN = ", smooth, stable, steady, sharp focus, high detail, crisp"


@pytest.fixture(scope="module")
def gen():
    return ProceduralGenerator(width=160, height=120, fps=12, seconds=2.0)


def red_mask(frames: np.ndarray) -> np.ndarray:
    f = frames.astype(int)
    return (f[..., 0] > 150) & (f[..., 1] < 90) & (f[..., 2] < 90)


def centroids(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.mgrid[0:mask.shape[1], 0:mask.shape[2]]
    area = mask.sum(axis=(1, 2))
    return np.stack([(mask * xs).sum(axis=(1, 2)) / area, (mask * ys).sum(axis=(1, 2)) / area], axis=1)


def luma_means(frames: np.ndarray) -> np.ndarray:
    return frames.astype(float).mean(axis=(1, 2, 3))


def test_scene_reads_objects_colours_surface_and_controls():
    scene = parse_scene(BALL)
    (ball,) = scene.objects
    assert (ball.shape, ball.colour, ball.motion) == ("circle", (215, 30, 30), "bounce")
    assert scene.surface[0] == "wood" and scene.sky == "indoor"
    assert scene.motion_scale == 1.0 and scene.flicker > 0.1 and scene.blur > 1 and scene.noise > 5
    fixed = parse_scene(BALL + ", smooth, stable footage, sharp focus, high detail")
    assert fixed.triggers["stable"] == ["smooth", "stable"] and fixed.triggers["detail"] == ["high detail", "sharp focus"]
    assert fixed.flicker < scene.flicker / 10 and fixed.blur < scene.blur / 5
    assert parse_scene("a red ball on a wooden floor").motion_scale == 0.0  # no action, no motion word: still
    assert parse_scene("a red ball on a floor, moving").objects[0].motion == "travel"
    assert parse_scene(BALL + ", camera pan").pan_speed > 0
    assert [o.noun for o in parse_scene("two dogs near a tree").objects] == ["dog", "tree"]


def test_red_ball_bounces_over_a_brown_textured_floor(gen):
    frames = gen.frames(BALL + CLEAN, seed=0)
    assert frames.shape == (24, 120, 160, 3) and frames.dtype == np.uint8
    mask = red_mask(frames)
    area = mask.sum(axis=(1, 2))
    r = 0.10 * 120
    assert np.all(np.abs(area - np.pi * r * r) < 0.3 * np.pi * r * r)  # a disc of the expected size, every frame
    xy = centroids(mask)
    floor_y = FLOOR_TOP * 120
    assert np.all(xy[:, 1] < floor_y)  # above the floor
    assert xy[:, 1].max() - xy[:, 1].min() > 0.2 * 120  # goes up and down
    assert xy[:, 0].std() < 1.0  # straight up and down: a bounce, not a slide
    assert xy[0, 1] == pytest.approx(floor_y - r, abs=2)  # starts in contact with the floor
    floor = frames[:, int(floor_y) + 4:].astype(float)
    r_, g_, b_ = floor[..., 0].mean(), floor[..., 1].mean(), floor[..., 2].mean()
    assert r_ > g_ > b_ and 100 < r_ < 180  # brown
    assert floor.mean(axis=3).std() > 6  # grain and plank seams, not a flat colour


def test_flicker_and_stillness_unless_the_prompt_asks_otherwise(gen):
    raw = gen.frames("a red ball on a wooden floor", seed=0)
    stable = gen.frames("a red ball on a wooden floor, smooth, stable, steady", seed=0)
    jump_raw = np.abs(np.diff(luma_means(raw))).mean()
    jump_stable = np.abs(np.diff(luma_means(stable))).mean()
    assert jump_raw > 10 and jump_stable < jump_raw / 20
    still = centroids(red_mask(gen.frames("a red ball on a wooden floor" + CLEAN, seed=0)))
    assert np.ptp(still, axis=0).max() < 0.5  # no motion asked for: the ball stays put
    moving = centroids(red_mask(gen.frames("a red ball on a wooden floor, moving" + CLEAN, seed=0)))
    assert np.ptp(moving[:, 0]) > 10
    dynamic = centroids(red_mask(gen.frames(BALL + ", dynamic, fast" + CLEAN, seed=0)))
    calm = centroids(red_mask(gen.frames(BALL + CLEAN, seed=0)))
    assert np.abs(np.diff(dynamic, axis=0)).sum() > 1.3 * np.abs(np.diff(calm, axis=0)).sum()


def test_camera_pan_moves_the_background(gen):
    def floor_change(prompt):
        f = gen.frames(prompt, seed=0)[:, int(FLOOR_TOP * 120) + 4:].astype(float)
        return np.abs(np.diff(f, axis=0)).mean()

    assert floor_change("a red ball on a wooden floor, camera pan" + CLEAN) > 3 * floor_change(
        "a red ball on a wooden floor" + CLEAN)


def test_detail_words_remove_blur_and_noise(gen):
    def high_freq(frames):  # noise + edge energy in the flat wall, and edge sharpness of the ball
        wall = frames[:, 5:40, 5:60].astype(float).mean(axis=3)
        return np.abs(np.diff(wall, axis=2)).mean()

    def edge(frames):  # steepest step of the ball's outline on its centre row, noise averaged out over time
        row = frames.astype(float).mean(axis=0)
        y = int(round(centroids(red_mask(frames[:1]))[0, 1]))
        return np.abs(np.diff(row[y, :, 1])).max()

    soft = gen.frames("a red ball on a wooden floor, smooth, stable, steady", seed=0)
    sharp = gen.frames("a red ball on a wooden floor, smooth, stable, steady, sharp focus, high detail", seed=0)
    assert high_freq(sharp) < high_freq(soft) / 2
    assert edge(sharp) > 1.5 * edge(soft)


def test_output_is_deterministic_in_prompt_and_seed(gen):
    assert np.array_equal(gen.frames(BALL, 3), gen.frames(BALL, 3))
    assert not np.array_equal(gen.frames(BALL, 3), gen.frames(BALL, 4))
    blue = gen.frames("a blue ball on a wooden floor" + CLEAN, 0).astype(int)
    assert ((blue[..., 2] > 150) & (blue[..., 0] < 90)).sum() > 100 and red_mask(blue).sum() == 0


def test_procedural_writes_h264_yuv420p(gen, tmp_path):
    assert isinstance(gen, Generator)
    path = gen.generate(BALL, 0, tmp_path / "v" / "round.mp4")
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 24 and frames[0].shape == (120, 160, 3)
    assert float(stream.average_rate) == 12
    assert gen.describe()["scene"]["objects"][0]["noun"] == "ball"
    assert not list(tmp_path.glob("v/.*partial*"))  # no temporary file left behind


def test_encode_helpers(tmp_path):
    floats = np.random.default_rng(0).random((1, 3, 8, 10, 3)).astype(np.float32)  # diffusers-style batch
    u8 = to_uint8_frames(floats)
    assert u8.shape == (3, 8, 10, 3) and u8.dtype == np.uint8
    assert to_uint8_frames(np.zeros((2, 3, 8, 10))).shape == (2, 8, 10, 3)  # channels first
    path = write_mp4(tmp_path / "odd.mp4", np.zeros((2, 9, 11, 3), np.uint8), fps=7.5)
    with av.open(str(path)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (10, 8)  # cropped to even sides
    with pytest.raises(ValueError, match="no frames"):
        write_mp4(tmp_path / "empty.mp4", [], fps=8)
    with pytest.raises(ConfigError):
        ProceduralGenerator(width=33)


FAKE_TOOL = textwrap.dedent("""
    import argparse, json, shutil, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--prompt"); p.add_argument("--seed", type=int); p.add_argument("--out")
    p.add_argument("--mode", default="ok")
    a = p.parse_args()
    if a.mode == "fail":
        sys.exit("CUDA out of memory (pretend)")
    if a.mode == "sleep":
        time.sleep(30)
    if a.mode != "nothing":
        open(a.out, "wb").write(json.dumps({"prompt": a.prompt, "seed": a.seed}).encode())
""")


@pytest.fixture
def tool(tmp_path):
    script = tmp_path / "tool.py"
    script.write_text(FAKE_TOOL)
    return f"{sys.executable} {script} --prompt {{prompt}} --seed {{seed}} --out {{out}}"


def test_command_generator_passes_hostile_prompts_as_one_argument(tool, tmp_path):
    prompt = "a \"red\" ball; rm -rf / $(whoami) `id` 'quoted' {braces} & more"
    generator = build_generator("command", {"template": tool, "timeout": 60})
    out = generator.generate(prompt, 7, tmp_path / "out dir" / "v.mp4")
    assert json.loads(out.read_bytes()) == {"prompt": prompt, "seed": 7}
    argv = render_command("x --p {prompt} --o {out} --k {other}", "a b", 1, tmp_path / "o.mp4")
    assert argv == ["x", "--p", "a b", "--o", str(tmp_path / "o.mp4"), "--k", "{other}"]


@pytest.mark.parametrize(("mode", "timeout", "message"), [
    ("fail", 60, "exited with 1: CUDA out of memory"),
    ("sleep", 0.5, "ran past 0.5 s"),
    ("nothing", 60, "wrote nothing"),
])
def test_command_generator_failures_are_typed(tool, tmp_path, mode, timeout, message):
    generator = CommandGenerator(tool + f" --mode {mode}", timeout=timeout)
    with pytest.raises(GenerationError, match=message):
        generator.generate("a ball", 0, tmp_path / "v.mp4")


def test_command_generator_validates_its_template():
    with pytest.raises(ConfigError, match="must contain"):
        CommandGenerator("python gen.py --prompt {prompt}")
    with pytest.raises(GenerationError, match="not found"):
        CommandGenerator("/no/such/program {prompt} {out}").generate("x", 0, "/tmp/never.mp4")
    with pytest.raises(ConfigError, match="takes"):
        build_generator("procedural", {"colour": "red"})
    with pytest.raises(ConfigError, match="template"):
        build_generator("command", {})
