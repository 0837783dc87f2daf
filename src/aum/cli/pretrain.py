"""`aum pretrain CONFIG.yaml [key=value ...] [--resume] [--out DIR]`: masked spectrogram patch pretraining
(SSAMBA / SSAST recipe) of an SSAMBA, SSAST or AuM encoder on unlabeled audio; same loop, checkpoints, logs and
resume as `aum train`. The pretrained encoder is `<out>/best` (a save_pretrained folder): fine-tune it with
`aum train configs/finetune_*.yaml model.pretrained=<out>/best`.

Overrides: section.key=value, e.g. task.mask_size=300 optim.lr=1e-4 train.epochs=3.
"""

from __future__ import annotations

from pathlib import Path

from aum.cli.train import register_run_command, run_recipe


def register(sub) -> None:
    register_run_command(sub, "pretrain", __doc__, run, example="configs/pretrain_ssamba_tiny_demo.yaml",
                         help="self-supervised masked patch pretraining on unlabeled audio")


def run(args) -> int:
    return run_recipe(args, "pretraining", report_encoder, task="pretrain", only_task=True)


def report_encoder(cfg, out: Path, summary: dict) -> None:
    print(f"pretrained encoder: {out / 'best'}  (fine-tune: aum train configs/finetune_<dataset>.yaml "
          f"model.pretrained={out / 'best'})")
