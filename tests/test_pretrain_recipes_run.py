"""The paper-scale pretraining recipes (10 s clips, 1024 frames, 512 patches, 400 masked) run a few optimizer
steps end to end, on a tiny stand-in for their data sources and at depth 2 (everything else as written)."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aum.data.unlabeled import UnlabeledData
from aum.train import load_config, run_training

CONFIGS = Path(__file__).parent.parent / "configs"
PAPER_SCALE = ["pretrain_ssamba_base.yaml", "pretrain_ssast_base.yaml"]


@pytest.mark.parametrize("name", PAPER_SCALE)
def test_paper_scale_recipe_runs_a_few_steps(name, tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(tmp_path / f"clip{i}.wav", (0.1 * rng.standard_normal(160000)).astype(np.float32), 16000)
    cfg = load_config(CONFIGS / name, ["model.depth=2", "train.epochs=1", "train.max_steps=2", "train.batch_size=2",
                                       "train.num_workers=0", "train.device=cpu", "train.save_every_steps=0"])
    assert cfg.frontend.target_frames == 1024 and cfg.task.mask_size == 400 and cfg.task.passes == 2
    cfg.data = UnlabeledData(sources=[{"format": "audio_tree", "root": str(tmp_path), "val_fraction": 0.4}])
    summary = run_training(cfg, tmp_path / "run")
    assert summary["best_masked_acc"] is not None and 0 <= summary["best_masked_acc"] <= 1
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
