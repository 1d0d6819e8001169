"""One loader per public benchmark, each reading the dataset AS PUBLISHED (the user downloads it once; nothing
is fetched at run time). Where a layout could not be checked against its release, the loader says so in
``Loaded.notes`` and reads the closest documented form; the README "Benchmarks" section repeats it.

Each loader takes the benchmark folder and returns :class:`aigve.benchmarks.dataset.Loaded`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aigve.benchmarks import dataset as D
from aigve.errors import InputError


@dataclass(frozen=True)
class BenchmarkInfo:
    """What ``aigve benchmark list`` prints: the kind, the official metric and the expected files."""

    name: str
    kind: str
    metric: str
    layout: str
    verified: bool


def _vid(videos: dict[str, D.BenchVideo], path: str, prompt: str) -> str:
    """Video id of (path, prompt), one per distinct pair: a video compared in several pairs is scored once."""
    for v in videos.values():
        if v.path == path and v.prompt == prompt:
            return v.id
    stem, n = Path(path).stem, 1
    name = stem
    while name in videos:
        n += 1
        name = f"{stem}-{n}"
    videos[name] = D.BenchVideo(name, path, prompt)
    return name


# --- VideoGen-RewardBench --------------------------------------------------------------------------------
# Layout: KwaiVGI/VideoGen-RewardBench on the Hugging Face hub (VideoAlign, arXiv 2501.13918): one CSV,
# videogen-rewardbench.csv, of pairs with path_A, path_B, A_model, B_model, prompt, fps_A, num_frames_A, fps_B,
# num_frames_B and the human labels VQ, MQ, TA, Overall in {A, B, same}; video paths relative to the folder.
VGRB_DIMS = {"VQ": "visual_quality", "MQ": "motion_quality", "TA": "text_alignment", "Overall": "overall"}
VGRB_LAYOUT = "path_A, path_B, A_model, B_model, prompt, fps_A, num_frames_A, fps_B, num_frames_B, VQ, MQ, TA, Overall"


def videogen_rewardbench(folder: str | Path) -> D.Loaded:
    folder = Path(folder)
    path = D.find_file(folder, ["videogen-rewardbench.csv"], f"videogen-rewardbench.csv ({VGRB_LAYOUT})")
    videos: dict[str, D.BenchVideo] = {}
    pairs = []
    for row, rec in D.read_rows(path):
        D.require(path, row, rec, ["path_A", "path_B", "prompt", *VGRB_DIMS], VGRB_LAYOUT)
        prompt = str(rec["prompt"]).strip()
        a = _vid(videos, D.video_path(folder, rec["path_A"]), prompt)
        b = _vid(videos, D.video_path(folder, rec["path_B"]), prompt)
        labels = {dim: D.pair_label(path, row, dim, rec[dim]) for dim in VGRB_DIMS}
        pairs.append(D.PairTask(f"pair{row - 1}", a, b, labels))
    if not pairs:
        raise InputError(path, "no pairs found")
    return D.Loaded("videogen-rewardbench", "pairwise", tuple(videos.values()), tuple(VGRB_DIMS), VGRB_DIMS,
                    str(path), pairs=tuple(pairs))


# --- GenAI-Bench, video generation preferences ----------------------------------------------------------
# Layout: TIGER-Lab/GenAI-Bench on the Hugging Face hub, config video_generation, split test (GenAI-Arena votes):
# prompt, left_model, left_video, right_model, right_video, vote_type in {leftvote, rightvote, tievote,
# bothbad_vote}; the fields as the VideoScore2 harness reads them (TIGER-AI-Lab/VideoScore2 eval/get_pairwise_acc.py).
# The hub serves parquet: put the split's file here (or a CSV/JSONL export of it) with the videos it names.
# Official metric (VideoScore benchmark/README.md; the VideoScore2 harness): pairwise accuracy; a judge's tie
# matches both tievote and bothbad_vote; without ties those votes are left out.
GENAI_LAYOUT = "prompt, left_video, right_video, vote_type"


def genai_bench_video(folder: str | Path) -> D.Loaded:
    folder = Path(folder)
    path = D.find_file(folder, ["genai_bench_video.csv", "test.parquet", "video_generation.csv",
                                "genai_bench_video.jsonl", "genai_bench_video.json"], f"a table of votes ({GENAI_LAYOUT})")
    videos: dict[str, D.BenchVideo] = {}
    pairs = []
    for row, rec in D.read_rows(path):
        D.require(path, row, rec, ["prompt", "left_video", "right_video", "vote_type"], GENAI_LAYOUT)
        prompt = str(rec["prompt"]).strip()
        a = _vid(videos, D.video_path(folder, rec["left_video"]), prompt)
        b = _vid(videos, D.video_path(folder, rec["right_video"]), prompt)
        pairs.append(D.PairTask(f"pair{len(pairs) + 1}", a, b,
                                {"Overall": D.pair_label(path, row, "vote_type", rec["vote_type"])}))
    if not pairs:
        raise InputError(path, "no pairs found")
    return D.Loaded("genai-bench-video", "pairwise", tuple(videos.values()), ("Overall",), {"Overall": "overall"},
                    str(path), pairs=tuple(pairs))


# --- pointwise benchmarks ------------------------------------------------------------------------------


def _pointwise(name: str, folder: Path, files: list[str], video_cols: tuple[str, ...], prompt_cols: tuple[str, ...],
               dims: dict[str, str], layout: str, scale: tuple[int, int] | None, notes: tuple[str, ...] = ()) -> D.Loaded:
    path = D.find_file(folder, files, f"{files[0]} ({layout})")
    videos: dict[str, D.BenchVideo] = {}
    points = []
    for row, rec in D.read_rows(path):
        vcol = next((c for c in video_cols if rec.get(c) not in (None, "")), video_cols[0])
        pcol = next((c for c in prompt_cols if rec.get(c) not in (None, "")), prompt_cols[0])
        D.require(path, row, rec, [vcol, pcol, *dims], layout)
        vid = _vid(videos, D.video_path(folder, rec[vcol]), str(rec[pcol]).strip())
        points.append(D.PointTask(vid, {d: D.number(path, row, d, rec[d]) for d in dims}))
    if not points:
        raise InputError(path, "no videos found")
    return D.Loaded(name, "pointwise", tuple(videos.values()), tuple(dims), dims, str(path), points=tuple(points),
                    scale=scale, notes=notes)


# VideoScore-Bench-v2: the in-domain test split of VideoFeedback2 (TIGER-Lab, VideoScore2 arXiv 2509.22799):
# three dimensions scored 1-5 by humans. The file's exact column names were NOT checked here; this reads the
# closest documented form, a JSON/JSONL/CSV of video_path, prompt, visual_quality, text_alignment,
# physical_consistency.
VSB2_DIMS = {"visual_quality": "visual_quality", "text_alignment": "text_alignment",
             "physical_consistency": "physical_consistency"}


def videoscore_bench_v2(folder: str | Path) -> D.Loaded:
    return _pointwise("videoscore-bench-v2", Path(folder),
                      ["videoscore_bench_v2.json", "videoscore_bench_v2.jsonl", "videoscore_bench_v2.csv"],
                      ("video_path", "video"), ("prompt", "text prompt"), VSB2_DIMS,
                      "video_path, prompt, visual_quality, text_alignment, physical_consistency (1-5)", (1, 5),
                      ("column names not checked against the VideoScore-Bench-v2 release: closest documented form",))


# T2VQA-DB (Kou et al., arXiv 2403.11956): 10,000 videos with a mean opinion score each. Layout NOT checked:
# closest documented form, a CSV of video, prompt, mos. Official metric: SRCC and PLCC against the MOS.
def t2vqa_db(folder: str | Path) -> D.Loaded:
    return _pointwise("t2vqa-db", Path(folder), ["t2vqa_db.csv", "t2vqa_db.jsonl", "t2vqa_db.json"],
                      ("video", "video_name"), ("prompt",), {"mos": "overall"}, "video, prompt, mos", None,
                      ("layout not checked against the T2VQA-DB release: closest documented form",))


# VideoPhy-2 test (videophysics/videophy2_test on the Hugging Face hub, arXiv 2503.06800): video_url, caption,
# sa (semantic adherence, 1-5), pc (physical commonsense, 1-5). Column names as recalled, NOT checked here.
# The dataset's own headline is the joint score (SA >= 4 and PC >= 4); judges are compared as the VideoScore2
# harness compares them on video_phy2_test (eval/get_acc_corr.py): accuracy, +-1 accuracy, SRCC and PLCC of the
# text-alignment (SA) and physics (PC) scores on 1-5; aigve adds agreement with the humans' joint label.
VPHY_DIMS = {"sa": "text_alignment", "pc": "physical_consistency"}


def videophy2_test(folder: str | Path) -> D.Loaded:
    return _pointwise("videophy2-test", Path(folder), ["videophy2_test.csv", "videophy2_test.jsonl", "test.csv"],
                      ("video_url", "video"), ("caption", "prompt"), VPHY_DIMS, "video_url, caption, sa, pc (1-5)",
                      (1, 5), ("column names not checked against the VideoPhy-2 release: closest documented form",))


# AIGVE-Bench v1/v2 (the format aigve already reads, aigve.annotations): {"data_list": [...]} with prompt_gt,
# video_path_pd and the nine aspect scores 0-5 (v2 adds a comment per aspect).
def aigve_bench(folder: str | Path) -> D.Loaded:
    from aigve.annotations import load_annotations

    folder = Path(folder)
    path = D.find_file(folder, ["aigve_bench.json", "aigve_bench_v2.json"],
                       "aigve_bench.json ({\"data_list\": [...]} with prompt_gt, video_path_pd, the nine scores)")
    anns = load_annotations(path, video_dir=folder)
    videos: dict[str, D.BenchVideo] = {}
    points = []
    for ann in anns:
        if not ann.video or not ann.prompt or not ann.scores:
            raise InputError(path, "entry needs video_path_pd, prompt_gt and aspect scores", row=ann.row)
        vid = _vid(videos, D.video_path(folder, ann.video), ann.prompt)
        points.append(D.PointTask(vid, dict(ann.scores)))
    dims = tuple(k for k in _aspect_keys() if any(k in p.human for p in points))
    return D.Loaded("aigve-bench", "pointwise", tuple(videos.values()), dims, {d: d for d in dims}, str(path),
                    points=tuple(points), scale=(0, 5))


def _aspect_keys() -> tuple[str, ...]:
    from aigve.aspects import ASPECT_KEYS

    return tuple(ASPECT_KEYS)


INFO = {
    "videogen-rewardbench": BenchmarkInfo("videogen-rewardbench", "pairwise",
                                          "pairwise accuracy with ties (tie-calibrated) and without ties, per VQ/MQ/TA/Overall",
                                          f"videogen-rewardbench.csv ({VGRB_LAYOUT}) + the videos it names", True),
    "videoscore-bench-v2": BenchmarkInfo("videoscore-bench-v2", "pointwise",
                                         "accuracy, +-1 accuracy and PLCC on the 1-5 scale, per dimension",
                                         "videoscore_bench_v2.json (video_path, prompt, visual_quality, text_alignment, "
                                         "physical_consistency)", False),
    "genai-bench-video": BenchmarkInfo("genai-bench-video", "pairwise", "pairwise accuracy (with and without ties)",
                                       f"genai_bench_video.csv or test.parquet ({GENAI_LAYOUT})", True),
    "t2vqa-db": BenchmarkInfo("t2vqa-db", "pointwise", "SRCC and PLCC against MOS", "t2vqa_db.csv (video, prompt, mos)",
                              False),
    "videophy2-test": BenchmarkInfo("videophy2-test", "pointwise",
                                    "accuracy, +-1 accuracy, SRCC and PLCC of SA and PC (1-5); agreement on the joint "
                                    "label (SA>=4 and PC>=4)",
                                    "videophy2_test.csv (video_url, caption, sa, pc)", False),
    "aigve-bench": BenchmarkInfo("aigve-bench", "pointwise", "SRCC, PLCC, accuracy and +-1 accuracy per aspect (0-5)",
                                 "aigve_bench.json (data_list: prompt_gt, video_path_pd, nine scores)", True),
}
