"""Each built-in sanity transform on synthetic clips: the variant really is what its name says."""

from __future__ import annotations

import numpy as np
import pytest

from aigve.errors import ConfigError, UnknownNameError
from aigve.sanity import SANITY_CHECKS, Clip, Expectation, SanityCheck, Variant, frame_transform, resolve_checks
from aigve.sanity.run import fingerprint, make_clips
from aigve.sanity.transforms import (
    UNRELATED_PROMPTS,
    decode_all,
    shuffle_order,
    swapped_prompt,
    word_overlap,
)
from aigve.testing.videos import make_clip, write_video

FPS = 8.0
N = 16
CODEC_TOL = 4.0  # mean |difference| (grey levels) that x264 at CRF 12 may leave on these 64x64 clips


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = write_video(tmp_path_factory.mktemp("src") / "moving.mp4", make_clip("moving", num_frames=N, size=(64, 64)),
                       fps=FPS)
    frames, fps = decode_all(str(path))
    return path, frames, fps


def _clip(path, prompt="a textured square moving right", prompts=None, index=0):
    prompts = tuple(prompts or (prompt,))
    return Clip("moving", str(path), prompt, fingerprint(path), index, prompts)


def _variant(name, source, tmp_path):
    path, _, _ = source
    v = SANITY_CHECKS.get(name)(_clip(path), tmp_path / name)
    frames, fps = decode_all(v.video)
    return v, frames.astype(np.float32), fps


def _mad(a, b):
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def test_source_decodes_at_full_size(source):
    _, frames, fps = source
    assert frames.shape == (N, 64, 64, 3) and frames.dtype == np.uint8 and fps == FPS


def test_frozen_is_constant_and_the_first_frame(source, tmp_path):
    _, orig, _ = source
    v, frames, fps = _variant("frozen", source, tmp_path)
    assert frames.shape == orig.shape and fps == FPS
    assert max(_mad(f, frames[0]) for f in frames) < 1.0  # the same picture throughout
    assert _mad(frames[0], orig[0]) < CODEC_TOL
    assert _mad(orig[-1], orig[0]) > 2 * CODEC_TOL  # the source does move, so "constant" means something


def test_reversed_frame_i_is_source_frame_n_minus_1_minus_i(source, tmp_path):
    _, orig, _ = source
    _, frames, fps = _variant("reversed", source, tmp_path)
    assert len(frames) == N and fps == FPS
    for i in range(N):
        assert _mad(frames[i], orig[N - 1 - i]) < CODEC_TOL
    assert _mad(frames[0], orig[0]) > 2 * CODEC_TOL


def test_shuffled_is_a_permutation_but_not_the_identity(source, tmp_path):
    _, orig, _ = source
    _, frames, _ = _variant("shuffled", source, tmp_path)
    matched = [int(np.argmin([_mad(f, o) for o in orig])) for f in frames]
    assert sorted(matched) == list(range(N))
    assert matched != list(range(N))


def test_shuffle_order_is_seeded_and_never_identity():
    rng = np.random.default_rng
    assert np.array_equal(shuffle_order(16, rng(3)), shuffle_order(16, rng(3)))
    for seed in range(50):
        order = shuffle_order(2, rng(seed))
        assert sorted(order) == [0, 1] and list(order) == [1, 0]


def test_fps_half_and_double_keep_duration_and_content(source, tmp_path):
    _, orig, _ = source
    _, half, half_fps = _variant("fps_half", source, tmp_path)
    assert len(half) == N // 2 and half_fps == FPS / 2
    assert all(_mad(half[i], orig[2 * i]) < CODEC_TOL for i in range(N // 2))
    _, double, double_fps = _variant("fps_double", source, tmp_path)
    assert len(double) == 2 * N and double_fps == 2 * FPS
    assert all(_mad(double[i], orig[i // 2]) < CODEC_TOL for i in range(2 * N))
    assert len(half) / half_fps == len(double) / double_fps == N / FPS


def test_black_is_black_and_noise_is_noise(source, tmp_path):
    _, black, _ = _variant("black", source, tmp_path)
    assert black.shape == (N, 64, 64, 3) and black.max() <= 2
    _, noise, _ = _variant("noise", source, tmp_path)
    # uniform 0-255 has std 73.9; yuv420p averages chroma over 2x2 pixels, which lowers it to ~53
    assert 40 < noise.std() < 90 and abs(noise.mean() - 127.5) < 10
    assert _mad(noise[1], noise[0]) > 30  # new noise every frame


def test_blur_removes_detail_and_jpeg_crushes(source, tmp_path):
    import cv2

    _, orig, _ = source

    def sharpness(frames):
        return float(np.mean([cv2.Laplacian(cv2.cvtColor(f.astype(np.uint8), cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
                              for f in frames]))

    _, blurred, _ = _variant("blur", source, tmp_path)
    assert blurred.shape == orig.shape
    assert sharpness(blurred) < 0.3 * sharpness(orig)
    _, crushed, _ = _variant("jpeg", source, tmp_path)
    assert crushed.shape == orig.shape and _mad(crushed, orig) > 3.0


def test_resolution_halves_width_and_height(source, tmp_path):
    _, frames, fps = _variant("resolution", source, tmp_path)
    assert frames.shape == (N, 32, 32, 3) and fps == FPS


def test_duplicate_is_a_byte_copy_and_rerun_is_the_file_itself(source, tmp_path):
    path, _, _ = source
    dup = SANITY_CHECKS.get("duplicate")(_clip(path), tmp_path / "duplicate")
    assert dup.video != str(path) and open(dup.video, "rb").read() == path.read_bytes()
    again = SANITY_CHECKS.get("rerun")(_clip(path), tmp_path / "rerun")
    assert again == Variant(str(path), _clip(path).prompt)


def test_variants_are_reused_and_remade_when_the_source_changes(tmp_path):
    src = write_video(tmp_path / "a.mp4", make_clip("moving", num_frames=8, size=(32, 32)), fps=FPS)
    first = SANITY_CHECKS.get("frozen")(_clip(src), tmp_path / "v")
    stamp = (tmp_path / "v").joinpath(first.video.split("/")[-1]).stat().st_mtime_ns
    assert SANITY_CHECKS.get("frozen")(_clip(src), tmp_path / "v").video == first.video
    assert (tmp_path / "v").joinpath(first.video.split("/")[-1]).stat().st_mtime_ns == stamp
    write_video(src, make_clip("static", num_frames=8, size=(32, 32)), fps=FPS)
    assert SANITY_CHECKS.get("frozen")(_clip(src), tmp_path / "v").video != first.video


def test_prompt_swap_is_a_deterministic_derangement_of_distinct_prompts(tmp_path):
    prompts = ["a red ball bouncing on a wooden floor", "a dog running across a snowy field",
               "a chef chopping onions in a kitchen", "a sailboat drifting on a calm lake"]
    items = [{"id": f"c{i}", "video": str(tmp_path / f"c{i}.mp4"), "prompt": p} for i, p in enumerate(prompts)]
    from aigve.evaluator import as_item

    clips = make_clips([as_item(it) for it in items])
    swapped = [swapped_prompt(c)[0] for c in clips]
    assert all(s != p for s, p in zip(swapped, prompts, strict=True))
    assert all(s in prompts for s in swapped)
    assert swapped == [swapped_prompt(c)[0] for c in clips]


def test_prompt_swap_uses_an_unrelated_prompt_when_the_others_are_alike(tmp_path):
    base = "A beautiful coastal beach in spring, waves lapping on sand"
    prompts = (f"{base}, animated style", f"{base}, black and white")
    clip = Clip("a", "a.mp4", prompts[0], "f", 0, prompts)
    assert word_overlap(*prompts) > 0.5
    prompt, note = swapped_prompt(clip)
    assert prompt in UNRELATED_PROMPTS and "unrelated" in note
    alone = Clip("a", "a.mp4", prompts[0], "f", 0, prompts[:1])
    assert swapped_prompt(alone)[0] in UNRELATED_PROMPTS


def test_registry_lists_builtins_and_accepts_a_user_check(tmp_path, source):
    assert {"prompt_swap", "frozen", "reversed", "shuffled", "black", "noise", "blur", "jpeg", "duplicate", "rerun",
            "fps_half", "fps_double", "resolution"} <= set(SANITY_CHECKS.names())
    with pytest.raises(UnknownNameError, match="frozen"):
        resolve_checks("frozn")
    upside = SanityCheck("upside_down_test", "flipped", frame_transform("upside", lambda f, fps, rng: (f[:, ::-1], fps)),
                         Expectation("drop", ("physics",)))
    SANITY_CHECKS.register("upside_down_test", upside)
    try:
        assert resolve_checks("frozen,upside_down_test")[1] is upside
        path, orig, _ = source
        frames, _ = decode_all(upside(_clip(path), tmp_path / "u").video)
        assert _mad(frames[0], orig[0][::-1]) < CODEC_TOL
    finally:
        SANITY_CHECKS._entries.pop("upside_down_test")


@pytest.mark.parametrize("bad", [dict(kind="rise"), dict(kind="drop", aspects=("sharpness",)),
                                 dict(kind="band", band=-1), dict(kind="drop", min_share=1.5)])
def test_expectation_refuses_bad_settings(bad):
    with pytest.raises(ConfigError):
        Expectation(**bad)
