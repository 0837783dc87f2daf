"""`aum pretrain CONFIG.yaml [key=value ...] [--resume] [--out DIR]`: masked spectrogram patch pretraining
(SSAMBA / SSAST recipe) of an SSAMBA, SSAST or AuM encoder on unlabeled audio; same loop, checkpoints, logs and
resume as `aum train`. The pretrained encoder is `<out>/best` (a save_pretrained folder): fine-tune it with
`aum train configs/finetune_*.yaml model.pretrained=<out>/best`.
"""

from __future__ import annotations

import os
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("pretrain", help="self-supervised masked patch pretraining on unlabeled audio",
                       description="Pretrain an encoder with masked spectrogram patch modeling (SSAST/SSAMBA). "
                       "Overrides: section.key=value, e.g. task.mask_size=300 optim.lr=1e-4 train.epochs=3.")
    p.add_argument("config", help="YAML recipe, e.g. configs/pretrain_ssamba_tiny_demo.yaml")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly from its 'last'")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")
    p.set_defaults(func=run)


def run(args) -> int:
    import aum.train.pretrain  # noqa: F401  (registers the pretrain task and the `unlabeled` data format)
    from aum.cli.train import RichProgress
    from aum.train import load_config, run_training
    from aum.train.logging_utils import format_metrics

    cfg = load_config(args.config, args.overrides)
    cfg.task.setdefault("name", "pretrain")
    if cfg.task["name"] != "pretrain":
        raise ValueError(f"{args.config}: task.name is {cfg.task['name']!r}; `aum pretrain` runs task.name=pretrain")
    out = Path(args.out or Path("runs") / Path(args.config).stem)
    main = int(os.environ.get("RANK", "0")) == 0
    progress = None if (args.no_progress or not main) else RichProgress()
    summary = run_training(cfg, out, resume=args.resume, progress=progress)
    if main:
        print(f"run folder: {out}  (best/ last/ logs/ curves.png)")
        print("pretraining:", format_metrics({k: v for k, v in summary.items() if k != "test"}))
        print(f"pretrained encoder: {out / 'best'}  (fine-tune: aum train configs/finetune_<dataset>.yaml "
              f"model.pretrained={out / 'best'})")
    return 0
