"""``aigve inputs VIDEO --prompt TEXT --out DIR``: write exactly what the judge will see for one video.

``chat.txt`` (the full templated text), ``frames/*.png`` (the frames as sent) and ``inputs.json`` (frame indices
and timestamps, frame size, video_grid_thw, second_per_grid_ts, token counts per type, sha256 of
pixel_values_videos as float32 C order, the judge profile and its hash). Loads the processor only (no weights)
and uses the scoring path's own sampling and input builder.
"""

from __future__ import annotations

import argparse
import json

from aigve.commands.options import add_sampling_args, sampling_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inputs", help="write the judge's exact inputs for one video (chat text, frames, tensors)")
    p.add_argument("video", help="the video file")
    p.add_argument("--prompt", required=True, help="the text prompt that produced the video")
    p.add_argument("--profile", default=None, metavar="NAME",
                   help="judge profile (see `aigve profiles`); default: recorded with --adapter/--model, else macs-card")
    p.add_argument("--model", default=None, help="checkpoint folder or hub id whose processor to use "
                                                 "(default xiaoliux/AIGVE-MACS; only its processor files are read)")
    p.add_argument("--adapter", default=None, help="LoRA adapter folder (only its recorded judge profile is read)")
    p.add_argument("--out", required=True, help="output folder")
    add_sampling_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aigve.judges.inputs import judge_inputs, write_judge_inputs

    result = judge_inputs(args.video, args.prompt, profile=args.profile, model=args.model, adapter=args.adapter,
                          sampling=sampling_from_args(args))
    out = write_judge_inputs(result, args.out)
    r = result.record
    print(json.dumps({k: r[k] for k in ("profile", "frame_indices", "frame_height", "frame_width", "video_grid_thw",
                                        "second_per_grid_ts", "tokens")}))
    print(f"wrote {out}/chat.txt, {out}/inputs.json and {r['num_frames']} frames in {out}/frames")
    return 0
