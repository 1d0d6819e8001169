import pytest

import aigve
from aigve.errors import ConfigError
from aigve.evaluator import VideoItem, as_item, load_evaluator


def test_public_api_evaluate_one_video(shared_videos):
    ev = aigve.load_evaluator(backend="fake")
    res = ev.evaluate(shared_videos / "lavie_beach_01.mp4", "a beach, black and white")
    assert res.ok and res.id == "lavie_beach_01"
    assert set(res.scores) == set(aigve.ASPECT_KEYS)
    assert res.raw_text and '"element_presentence"' in res.raw_text  # fake writes the released spellings
    assert res.scores["element_presence"] is not None  # ... and they come back canonical
    assert res.timings["total_s"] >= res.timings["decode_s"] > 0
    assert res.sampling["frame_indices"] and res.backend["name"] == "fake"
    assert res.to_record()["status"] == "ok"


def test_errors_are_results_not_exceptions(tmp_path):
    ev = load_evaluator("fake")
    res = ev.evaluate(tmp_path / "nope.mp4", "x")
    assert not res.ok and res.error["stage"] == "decode" and "nope.mp4" in res.error["message"]


def test_user_sampling_overrides_backend_defaults(shared_videos):
    ev = load_evaluator("fake", sampling={"max_frames": 4, "fps": 8})
    assert ev.sampling.max_frames == 4 and ev.sampling.max_pixels == 112 * 112  # fake's default kept
    res = ev.evaluate(shared_videos / "lavie_beach_01.mp4", "p")
    assert res.sampling["num_frames"] == 4


def test_unknown_backend_option_is_a_config_error():
    with pytest.raises(ConfigError, match="does not take this option"):
        load_evaluator("fake", model="some/model")


def test_as_item_forms():
    assert as_item(("a/b.mp4", "p")) == VideoItem("b", "a/b.mp4", "p")
    assert as_item({"video": "x.mp4", "prompt": "q", "id": 7}).id == "7"
    assert as_item("clip.webm").prompt == ""
    assert aigve.list_backends() == ["fake", "macs", "macs-scores", "signals", "vllm"]


def test_process_workers_give_the_thread_results(shared_videos):
    from aigve.backends.fake import FakeBackend
    from aigve.evaluator import Evaluator

    items = [(str(shared_videos / f"lavie_beach_0{i}.mp4"), "a beach", f"v{i}") for i in range(3)]
    threads = list(Evaluator(FakeBackend(), prefetch=1).evaluate_many(items, batch_size=2))
    with Evaluator(FakeBackend(), prefetch=1, workers="process") as ev:
        ev.start_workers()
        procs = list(ev.evaluate_many(items, batch_size=2))
        assert ev._process_pool is not None  # one persistent pool, reused across calls
    assert ev._process_pool is None
    assert [r.raw_text for r in procs] == [r.raw_text for r in threads] and all(r.ok for r in procs)
    with pytest.raises(ConfigError, match="workers"):
        Evaluator(FakeBackend(), workers="fibers")


def test_backend_preprocessing_runs_ahead_in_a_worker_with_identical_results(tiny_judge, shared_videos):
    import threading

    from aigve.backends.macs import MacsBackend
    from aigve.evaluator import Evaluator

    backend = MacsBackend(model=str(tiny_judge), generation={"max_new_tokens": 300})
    threads = []
    real_prepare = backend.prepare

    def spy(videos, prompts):
        threads.append(threading.current_thread() is threading.main_thread())
        return real_prepare(videos, prompts)

    backend.prepare = spy
    items = [(str(shared_videos / f"lavie_beach_0{i}.mp4"), "a beach", f"v{i}") for i in range(4)]
    sampling = {"max_frames": 4, "max_pixels": 112 * 112, "min_pixels": 28 * 28}
    ahead = list(Evaluator(backend, sampling, prefetch=2).evaluate_many(items, batch_size=2))
    assert threads == [False, False]  # two batches, both prepared off the model's thread
    threads.clear()
    inline = list(Evaluator(backend, sampling, prefetch=0).evaluate_many(items, batch_size=2))
    assert threads == [True, True]
    assert all(r.ok for r in ahead)
    assert [r.raw_text for r in ahead] == [r.raw_text for r in inline]
    assert [r.expected_scores for r in ahead] == [r.expected_scores for r in inline]
