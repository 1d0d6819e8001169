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
# Layout: TIGER-Lab/GenAI-Bench on the Hugging Face hub, config video_generation, split test (GenAI-Arena votes),
# video_generation/test-00000-of-00001.parquet: prompt, left_model, left_video, right_model, right_video, vote_type
# in {leftvote, rightvote, tievote, bothbad_vote} (the dataset card's features; the VideoScore2 harness reads the
# same fields, TIGER-AI-Lab/VideoScore2 eval/get_pairwise_acc.py).
# The hub serves parquet: put the split's file here (or a CSV/JSONL export of it) with the videos it names.
# Official metric (VideoScore benchmark/README.md; the VideoScore2 harness): pairwise accuracy; a judge's tie
# matches both tievote and bothbad_vote; without ties those votes are left out.
GENAI_LAYOUT = "prompt, left_video, right_video, vote_type"


def genai_bench_video(folder: str | Path) -> D.Loaded:
    folder = Path(folder)
    path = D.find_file(folder, ["video_generation/test-00000-of-00001.parquet", "test-00000-of-00001.parquet",
                                "genai_bench_video.csv", "test.parquet",
                                "video_generation.csv",
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


# VideoScore-Bench-v2 (TIGER-Lab/VideoFeedback2 on the Hugging Face hub, VideoScore2 arXiv 2509.22799): one JSON
# list, "data_27k_test (VideoScoreBench-v2).json" (500 items), fields video_name, video_url, prompt and the human
# scores visual_score, t2v_score, phy_score (integers 1-5); the videos ship as videos_27k_{1..6}.zip holding
# {video_name}.mp4. Fields as the VideoScore2 harness reads them (eval/eval_rm.py: item['video_name'],
# item['prompt'], item['visual_score'], item['t2v_score'], item['phy_score']). Official metric
# (eval/get_acc_corr.py): per dimension, accuracy and +-1 accuracy of the model score rounded and clamped to 1-5,
# and PLCC of the raw scores; the paper's Avg is their mean over the three dimensions; an answer with no score
# line counts as 0 (wrong), which aigve follows for a scored record whose score is missing.
VSB2_FILES = ["data_27k_test (VideoScoreBench-v2).json", "data_27k_test.json"]
VSB2_DIMS = {"visual_score": "visual_quality", "t2v_score": "text_alignment", "phy_score": "physical_consistency"}
VSB2_LAYOUT = "video_name, prompt, visual_score, t2v_score, phy_score (1-5); videos as {video_name}.mp4"
#: where the unzipped videos may lie under the benchmark folder (the release's zips unpack to videos_27k_i/)
VSB2_VIDEO_DIRS = ("", "videos", *(f"videos_27k_{i}" for i in range(1, 7)))


def videoscore_bench_v2(folder: str | Path) -> D.Loaded:
    folder = Path(folder)
    path = D.find_file(folder, VSB2_FILES, f"{VSB2_FILES[0]} ({VSB2_LAYOUT})")
    videos: dict[str, D.BenchVideo] = {}
    points = []
    for row, rec in D.read_rows(path):
        D.require(path, row, rec, ["video_name", "prompt", *VSB2_DIMS], VSB2_LAYOUT)
        name = str(rec["video_name"]).strip()
        file = name if name.lower().endswith(".mp4") else f"{name}.mp4"
        vid = _vid(videos, D.video_path(folder, file, VSB2_VIDEO_DIRS), str(rec["prompt"]).strip())
        points.append(D.PointTask(vid, {d: D.number(path, row, d, rec[d]) for d in VSB2_DIMS}))
    if not points:
        raise InputError(path, "no videos found")
    return D.Loaded("videoscore-bench-v2", "pointwise", tuple(videos.values()), tuple(VSB2_DIMS), VSB2_DIMS,
                    str(path), points=tuple(points), scale=(1, 5))


# T2VQA-DB (Kou et al., arXiv 2403.11956; github.com/QMME/T2VQA): 10,000 videos with a mean opinion score each,
# 0-100. The annotation file is pipe-separated text without a header, one video per line, filename|prompt|mos
# (T2VQA/dataset/dataset.py: ``filename, prompt, label = line.strip().split("|")``), filenames relative to the
# videos folder; shipped as info.txt (or the training split's database_standard_*.txt). The authors' metric:
# SRCC and PLCC against the MOS. (The VideoScore2 paper instead reports preference accuracy over 1,822 pairs it
# derived from 2,000 sampled videos; that pair file is not published, so its number is not reproducible here.)
T2VQA_LAYOUT = "filename|prompt|mos per line (no header; MOS 0-100)"


def t2vqa_db(folder: str | Path) -> D.Loaded:
    folder = Path(folder)
    path = D.find_file(folder, ["info.txt", "t2vqa_db.txt"], f"info.txt ({T2VQA_LAYOUT})")
    videos: dict[str, D.BenchVideo] = {}
    points = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise InputError(path, f"not a text file (expected {T2VQA_LAYOUT})") from None
    for row, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.strip().split("|")
        if len(fields) < 3 or not fields[0].strip():
            raise InputError(path, f"expected {T2VQA_LAYOUT}, got {line[:80]!r}", row=row)
        # a prompt holding "|" keeps its middle fields (the release's own split would reject the line)
        prompt = "|".join(fields[1:-1]).strip()
        vid = _vid(videos, D.video_path(folder, fields[0].strip(), ("", "videos", "T2Vdata")), prompt)
        points.append(D.PointTask(vid, {"mos": D.number(path, row, "mos", fields[-1].strip())}))
    if not points:
        raise InputError(path, "no videos found")
    return D.Loaded("t2vqa-db", "pointwise", tuple(videos.values()), ("mos",), {"mos": "overall"}, str(path),
                    points=tuple(points))


# VideoPhy-2 test (videophysics/videophy2_test on the Hugging Face hub, arXiv 2503.06800): videophy2_test.csv with
# video_url, caption, sa (semantic adherence, 1-5), pc (physical commonsense, 1-5), joint, is_hard, model_name,
# human_violated_rules; the videos ship as videophysics/videophy2_test_videos, named by the URL's file name. The
# columns are those read by code that loads the release (the dataset card itself was not readable here). The
# VideoScore2 harness compares judges on it (eval/get_acc_corr.py, video_phy2_test): accuracy and PLCC of the
# text-alignment score against SA and of the physics score against PC on 1-5, visual quality left out; the paper's
# headline is the accuracy averaged over SA and PC. aigve adds +-1 accuracy, SRCC and agreement with the humans'
# joint label (SA >= 4 and PC >= 4, the dataset's own headline).
VPHY_DIMS = {"sa": "text_alignment", "pc": "physical_consistency"}


def videophy2_test(folder: str | Path) -> D.Loaded:
    return _pointwise("videophy2-test", Path(folder), ["videophy2_test.csv", "test.csv"],
                      ("video_url", "video"), ("caption", "prompt"), VPHY_DIMS, "video_url, caption, sa, pc (1-5)",
                      (1, 5))


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
                                          "pairwise accuracy with ties (fixed margin as the VideoScore2 harness; and tie-calibrated) and "
                                          "without ties, per VQ/MQ/TA/Overall",
                                          f"videogen-rewardbench.csv ({VGRB_LAYOUT}) + the videos it names", True),
    "videoscore-bench-v2": BenchmarkInfo("videoscore-bench-v2", "pointwise",
                                         "accuracy, +-1 accuracy and PLCC on the 1-5 scale, per dimension and averaged",
                                         f"{VSB2_FILES[0]} ({VSB2_LAYOUT})", True),
    "genai-bench-video": BenchmarkInfo("genai-bench-video", "pairwise", "pairwise accuracy (with and without ties)",
                                       f"video_generation/test-00000-of-00001.parquet or a CSV export ({GENAI_LAYOUT})", True),
    "t2vqa-db": BenchmarkInfo("t2vqa-db", "pointwise", "SRCC and PLCC against MOS", f"info.txt ({T2VQA_LAYOUT})",
                              True),
    "videophy2-test": BenchmarkInfo("videophy2-test", "pointwise",
                                    "accuracy, +-1 accuracy, SRCC and PLCC of SA and PC (1-5); agreement on the joint "
                                    "label (SA>=4 and PC>=4)",
                                    "videophy2_test.csv (video_url, caption, sa, pc)", True),
    "aigve-bench": BenchmarkInfo("aigve-bench", "pointwise", "SRCC, PLCC, accuracy and +-1 accuracy per aspect (0-5)",
                                 "aigve_bench.json (data_list: prompt_gt, video_path_pd, nine scores)", True),
}
