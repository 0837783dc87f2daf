"""`aum predict FILE_OR_DIR --checkpoint DIR [--top-k 5] [--json] [--whole]`: top labels per audio file."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from aum.cli import predict_timeline
from aum.devices import resolve_device
from aum.errors import ConfigError
from aum.inference.predict import audio_paths, predict_files
from aum.models import from_pretrained


def register(sub) -> None:
    p = sub.add_parser("predict", help="top-k labels for audio files (sliding windows over long clips)")
    p.add_argument("path", help="an audio file or a folder of them")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder, e.g. runs/demo/best")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--whole", action="store_true",
                   help="run a long clip as one sequence instead of averaging windows (natural for AuM)")
    p.add_argument("--hop", type=float, default=None,
                   help="window hop in frames; in seconds with --timeline (default: half a window)")
    p.add_argument("--device", default="cpu", help="cpu | cuda")
    predict_timeline.add_arguments(p)
    p.set_defaults(func=run)


def print_table(result: dict, top_k: int) -> None:
    table = Table()
    table.add_column("file")
    for i in range(top_k):
        table.add_column(f"#{i + 1}")
    for row in result["predictions"]:
        table.add_row(row["file"], *[f"{label} {score:.2f}" for label, score in row["top"]])
    Console().print(table)
    if result["bad_files"]:
        print(f"{len(result['bad_files'])} file(s) skipped (unreadable): "
              + ", ".join(b["file"] for b in result["bad_files"]))


def run(args) -> int:
    if args.top_k < 1:
        raise ConfigError(f"--top-k {args.top_k}: must be at least 1")
    predict_timeline.check_without_timeline(args)
    if args.timeline:
        return predict_timeline.run(args)
    if args.hop is not None and args.hop < 1:
        raise ConfigError(f"--hop {args.hop:g}: must be at least 1")
    if args.hop is not None and args.hop != int(args.hop):
        raise ConfigError(f"--hop {args.hop:g}: a whole number of frames (seconds only with --timeline)")
    model = from_pretrained(args.checkpoint).to(resolve_device(args.device))
    top_k = min(args.top_k, model.config.num_classes)  # a 5-class model has 5 labels to show
    hop = None if args.hop is None else int(args.hop)
    result = predict_files(model, audio_paths(args.path), top_k, whole=args.whole, hop=hop)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result, top_k)
    return 0 if result["predictions"] else 1
