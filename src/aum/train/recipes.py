"""Built-in recipes as plain dicts (the YAML form lives in configs/): the CPU demo's, shared by `aum demo` and the
benchmarks that train a small model on the generated spoken-keyword set."""

from __future__ import annotations

DEMO = {
    "model": {"name": "aum_tiny", "depth": 4, "pool": "mean"},
    "data": {"format": "speechcommands"},
    "augment": {},  # SpecAugment/roll slowed learning too much for a few-minute run (measured)
    "task": {"name": "classification", "loss": "ce"},
    "frontend": {"preset": "speechcommands", "num_mel_bins": 64, "target_frames": 100},
    "optim": {"name": "adamw", "lr": 2.0e-3, "betas": [0.9, 0.999], "weight_decay": 0.01},
    "schedule": {"name": "cosine", "warmup_steps": 20, "min_lr_ratio": 0.0},
    "train": {"epochs": 20, "batch_size": 16, "eval_batch_size": 64, "num_workers": 0, "seed": 0,
              "log_every_steps": 10, "device": "cpu", "val_split": "validation", "test_split": "test"},
}
