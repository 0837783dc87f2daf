"""`aum pretrain CONFIG.yaml [key=value ...] [--resume] [--out DIR]`: masked spectrogram patch pretraining
(SSAMBA / SSAST recipe) of an SSAMBA, SSAST or AuM encoder on unlabeled audio; same loop, checkpoints, logs and
resume as `aum train`. The pretrained encoder is `<out>/best` (a save_pretrained folder): fine-tune it with
`aum train configs/finetune_*.yaml model.pretrained=<out>/best`.
"""

from __future__ import annotations

from aum.errors import ConfigError


def register(sub) -> None:
    from aum.cli.train import add_run_arguments

    p = sub.add_parser("pretrain", help="self-supervised masked patch pretraining on unlabeled audio",
                       description="Pretrain an encoder with masked spectrogram patch modeling (SSAST/SSAMBA). "
                       "Overrides: section.key=value, e.g. task.mask_size=300 optim.lr=1e-4 train.epochs=3.")
    add_run_arguments(p, "configs/pretrain_ssamba_tiny_demo.yaml")
    p.set_defaults(func=run)


def run(args) -> int:
    from aum.cli.train import launch
    from aum.train import load_config
    from aum.train.logging_utils import format_metrics

    cfg = load_config(args.config, args.overrides)
    cfg.task.setdefault("name", "pretrain")
    if cfg.task["name"] != "pretrain":
        raise ConfigError(f"{args.config}: task.name is {cfg.task['name']!r}; `aum pretrain` runs task.name=pretrain")
    out, summary, main = launch(args, cfg)
    if main:
        print("pretraining:", format_metrics({k: v for k, v in summary.items() if k != "test"}))
        print(f"pretrained encoder: {out / 'best'}  (fine-tune: aum train configs/finetune_<dataset>.yaml "
              f"model.pretrained={out / 'best'})")
    return 0
