"""The pretraining / fine-tuning recipes load, name real models and valid task options; the low-label helper."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from aum.data.subset import speaker_subset
from aum.models import get_config
from aum.train import load_config
from aum.train.pretrain import PretrainTask
from aum.train.task_registry import build_task

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
OURS = [p for p in CONFIGS if p.name.startswith(("pretrain_", "finetune_"))]


@pytest.mark.parametrize("path", OURS, ids=lambda p: p.name)
def test_recipe_loads(path):
    cfg = load_config(path)
    model = cfg.model.options
    if path.name.startswith("pretrain_"):
        task = build_task(cfg.task, None)
        assert isinstance(task, PretrainTask) and task.select_metric == "masked_acc"
        model.update(task.model_overrides())
        config = get_config(cfg.model.name, **model)
        grid = (config.mel_bins // 16) * (cfg.frontend.target_frames // 16)
        task.masking.resolve(grid)  # the mask size fits the grid
        assert cfg.schedule.name == "plateau" and cfg.train.test_split is None
    else:
        config = cfg.model.config
        assert config.patch_stride == 10 and config.resolved_pool == "mean" and not config.pretrain_heads


def test_speaker_subset_keeps_held_out_voices(tmp_path):
    root = tmp_path / "sc"
    for word in ("yes", "no"):
        (root / word).mkdir(parents=True)
        for speaker in [f"spk{i}" for i in range(10)]:
            sf.write(root / word / f"{speaker}_nohash_0.wav", np.zeros(160, np.float32), 16000)
    (root / "validation_list.txt").write_text("yes/spk8_nohash_0.wav\nno/spk8_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("yes/spk9_nohash_0.wav\nno/spk9_nohash_0.wav\n")
    kept = speaker_subset(root, tmp_path / "sub", 0.25)
    assert len(kept) == 2 and not {"spk8", "spk9"} & set(kept)  # round(0.25 * 8 training speakers)
    files = sorted(p.relative_to(tmp_path / "sub").as_posix() for p in (tmp_path / "sub").glob("*/*.wav"))
    expect = sorted(f"{w}/{s}_nohash_0.wav" for w in ("yes", "no") for s in [*kept, "spk8", "spk9"])
    assert files == expect
    assert kept == speaker_subset(root, tmp_path / "again", 0.25)  # deterministic
