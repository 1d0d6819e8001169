"""Length-sorted batching in ``Evaluator.evaluate_many``: similar lengths share a batch, within a bounded
window; every item is scored once, each result is yielded as soon as its batch is done, each record carries its batch size."""

from __future__ import annotations

from aigve.backends.fake import FakeBackend
from aigve.config import SamplingConfig
from aigve.evaluator import (
    SORT_WINDOW_BATCHES,
    Evaluator,
    VideoItem,
    estimated_input_tokens,
    length_sorted_batches,
)
from aigve.media import VideoInfo


class RecordingBackend(FakeBackend):
    """The fake judge, noting the prompts of every backend call (one call = one batch)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls: list[list[str]] = []

    def score(self, videos, prompts):
        self.calls.append(list(prompts))
        return super().score(videos, prompts)


def test_length_sorted_batches_hand_values():
    assert length_sorted_batches([9, 1, 8, 2, 5], 2, 4) == [[1, 3], [2, 0], [4]]  # window [9,1,8,2] | [5]
    assert length_sorted_batches([3, 3, 1, 1], 2, 4) == [[2, 3], [0, 1]]  # stable: ties keep input order
    assert length_sorted_batches([5, 4, 3], 1, 8) == [[0], [1], [2]]  # batch 1: input order, no sorting
    assert length_sorted_batches([], 4, 32) == []
    lengths = list(range(40, 0, -1))
    batches = length_sorted_batches(lengths, 4, 8)
    assert sorted(i for b in batches for i in b) == list(range(40))  # every item exactly once
    assert all(max(b) - min(b) < 8 for b in batches)  # never across a window


def test_estimate_uses_the_sampling_plan_and_the_prompt():
    cfg = SamplingConfig(fps=1.0, min_frames=2, max_frames=4, min_pixels=28 * 28, max_pixels=56 * 56)
    info = VideoInfo(path="a.mp4", num_frames=16, fps=8.0, duration_s=2.0, width=56, height=56, decoder="x")
    item = VideoItem("a", "a.mp4", "x" * 10)
    # 2 s at 1 fps -> 2 frames of 56 x 56 -> 1 temporal patch x 2 x 2 = 4 visual tokens; 10 chars -> 3 tokens
    assert estimated_input_tokens(item, info, cfg) == 4 + 3
    assert estimated_input_tokens(item, None, cfg) == 3


def test_similar_lengths_batched_together_each_written_once_at_once(shared_videos):
    short, long = "a beach", "a beautiful coastal beach in spring at dusk, waves lapping on sand, " * 4
    prompts = [short, long] * 4  # alternating: unsorted batches of 2 would always mix them
    items = [VideoItem(f"v{i}", str(shared_videos / f"lavie_beach_0{i}.mp4"), p) for i, p in enumerate(prompts)]
    backend = RecordingBackend()
    results = list(Evaluator(backend, prefetch=1).evaluate_many(items, batch_size=2))
    # batch order (short ones first), each once: a result is yielded as soon as its batch is scored
    assert [r.id for r in results] == ["v0", "v2", "v4", "v6", "v1", "v3", "v5", "v7"]
    assert all(r.ok and r.extra["batch_size"] == 2 for r in results)
    assert backend.calls == [[short, short], [short, short], [long, long], [long, long]]
    assert 8 <= SORT_WINDOW_BATCHES * 2  # the whole run fits one window here

    one = RecordingBackend()
    singles = list(Evaluator(one, prefetch=0).evaluate_many(items, batch_size=1))
    assert one.calls == [[p] for p in prompts] and all(r.extra["batch_size"] == 1 for r in singles)


def test_failed_batch_retried_one_by_one_records_batch_1(shared_videos):
    items = [VideoItem(f"v{i}", str(shared_videos / f"lavie_beach_0{i}.mp4"), "a beach") for i in range(3)]
    results = list(Evaluator(FakeBackend(fail_on="lavie_beach_01"), prefetch=0).evaluate_many(items, batch_size=3))
    assert [r.id for r in results] == ["v0", "v1", "v2"]
    assert [r.ok for r in results] == [True, False, True]
    assert [r.extra["batch_size"] for r in results] == [1, 1, 1]  # the batch of 3 failed; each ran alone
