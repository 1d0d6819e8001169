"""``aigve report``: agreement of score files with human raters, comment quality and plots."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="benchmark report: agreement with human scores, comment quality, plots",
                       description="Compare one or more score files (aigve results.jsonl, raw-output JSONL, or "
                                   "CSV with id + aspect columns) with human scores (AIGVE-Bench JSON, JSONL, "
                                   "CSV). Writes report.md, report.html, metrics.json, metrics.csv and plots/.")
    p.add_argument("--scores", action="append", required=True, metavar="[NAME=]PATH",
                   help="a score file; repeat for several systems (name defaults to the file stem)")
    p.add_argument("--human", default=None, metavar="PATH",
                   help="human scores; without it the report shows score distributions only")
    p.add_argument("--out", default="runs/report", help="output folder (default: runs/report)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in --out")
    p.add_argument("--group-by", default=None, metavar="COLUMN",
                   help="breakdown by a column, e.g. generator (from the human file or the score file)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples (0: no CIs)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--cluster-by", default="auto", metavar="COLUMN",
                   help="resample whole clusters in every bootstrap (e.g. prompt: all videos of a prompt together); "
                        "auto (default): prompt when the human file has prompts; none: single items")
    p.add_argument("--zero-as-na", action="store_true",
                   help="treat 0 on action_presence/action_quality as 'no action' (left out) instead of a score")
    p.add_argument("--score-kind", choices=("auto", "expected", "integer"), default="auto",
                   help="compare the judge's expected scores (digit probabilities) or its integer scores; auto: "
                        "expected when every scored record has them (default)")
    p.add_argument("--no-embeddings", action="store_true", help="skip the embedding similarity of comments")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--video-dir", default=None, help="folder that relative video paths in the human file refer to")
    p.add_argument("--title", default="aigve benchmark report", help="report title")
    p.set_defaults(func=run)


def _summary(metrics: dict) -> list[str]:
    from aigve.report.blocks import label, num

    lines = []
    for s in metrics["systems"]:
        if s.get("disclaimer"):
            lines.append(f"!! {s['name']}: {s['disclaimer']}")
    lines += [f"note: {n}" for n in metrics.get("notes", [])]
    for system, by_aspect in (metrics.get("agreement") or {}).items():
        lines.append(f"{system}: SRCC per aspect (n)")
        for aspect, st in by_aspect.items():
            e = st["srcc"]
            ci = f" [{num(e['ci_low'])}, {num(e['ci_high'])}]" if e["ci_low"] is not None else ""
            lines.append(f"  {label(aspect):<20} {num(e['value']):>9}{ci} (n={e['n']})")
    return lines


def run(args: argparse.Namespace) -> int:
    from aigve.report.build import build_report
    from aigve.run.folder import claim

    with claim(args.out, overwrite=args.overwrite, what="report"):
        report = build_report(args.scores, args.human, args.out, group_by=args.group_by, n_boot=args.bootstrap,
                              seed=args.seed, zero_as_na=args.zero_as_na, embeddings=not args.no_embeddings,
                              plots=not args.no_plots, video_dir=args.video_dir, title=args.title,
                              cluster_by=args.cluster_by, score_kind=args.score_kind)
    for line in _summary(report.metrics):
        print(line)
    print(f"report written to {report.files['markdown']} and {report.files['html']} "
          f"(+ metrics.json, metrics.csv{', plots/' if report.metrics.get('plots') else ''})")
    return 0
