"""`aum eval --checkpoint DIR --data CONFIG_OR_SPLIT`: metrics JSON + confusion-matrix PNG of a checkpoint."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from aum.train.evaluate import evaluate_checkpoint, load_data_config


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a checkpoint: metrics JSON (+ confusion matrix PNG)")
    p.add_argument("--checkpoint", required=True, help="checkpoint folder, e.g. runs/demo/best")
    p.add_argument("--data", default="test", help="a split of the checkpoint's training data (train/validation/"
                   "test) or a YAML config whose data section to use (default: test)")
    p.add_argument("--split", default=None, help="split of the YAML's data (default: test)")
    p.add_argument("--out", default=None, help="output folder (default: <checkpoint>/eval_<split>)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.set_defaults(func=run)


def run(args) -> int:
    data_cfg, split = load_data_config(Path(args.checkpoint), args.data)
    split = args.split or split or "test"
    out = Path(args.out or Path(args.checkpoint) / f"eval_{split}")
    report = evaluate_checkpoint(args.checkpoint, data_cfg, split, out, args.batch_size, args.num_workers,
                                 args.device)
    table = Table(title=f"{args.checkpoint} on {split} ({int(report['num_clips'])} clips)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("accuracy", "top5", "mAP", "mAUC", "d_prime", "macro_f1", "loss", "bad_clips"):
        if key in report:
            table.add_row(key, f"{report[key]:.4f}" if isinstance(report[key], float) else str(report[key]))
    Console().print(table)
    print(f"wrote {out / 'metrics.json'}" + (f" and {out / 'confusion.png'}" if "confusion" in report else ""))
    return 0
