"""Masked patch pretraining and fine-tuning under torchrun (2 CPU ranks, gloo): the pretext task is a module
(`MaskedPatchModel`) that DistributedDataParallel wraps, so both ranks end with identical weights and a stopped
run resumes exactly."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from test_ddp import _free_port
from test_pretrain_smoke import tiny_pretraining, write_tones
from test_train_fixtures import make_tone_dataset

WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path

    import torch

    from aum.train.config import load_config
    from aum.train.distributed import cleanup_distributed, setup_distributed
    from aum.data import SplitIndex
    from aum.train.run import build_trainer

    out, resume, overrides = Path(sys.argv[1]), sys.argv[2] == "resume", sys.argv[3:]
    cfg = load_config(None, overrides)
    info, device = setup_distributed(cfg.train.device)
    assert info.world_size == 2
    trainer, _, _ = build_trainer(cfg, SplitIndex(cfg.data), out, info, device)
    trainer.fit(resume=resume)
    torch.save(trainer.model.state_dict(), out / f"rank{info.rank}.pt")
    torch.distributed.barrier()  # as run_training does: the ranks leave together
    cleanup_distributed()
""")


def torchrun(tmp_path, out, overrides, resume=False):
    out.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", str(tmp_path / "worker.py"), str(out), "resume" if resume else "new",
           *overrides]
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0, w1 = torch.load(out / "rank0.pt"), torch.load(out / "rank1.pt")
    assert all(torch.equal(w0[k], w1[k]) for k in w0), "ranks disagree"
    return w0


@pytest.mark.slow
def test_ddp_pretraining_identical_ranks_exact_resume_then_ddp_finetune(tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    write_tones(tmp_path / "audio", 16)
    base = tiny_pretraining(tmp_path / "audio", batch_size=2)
    straight = torchrun(tmp_path, tmp_path / "straight", base + ["train.epochs=2"])
    torchrun(tmp_path, tmp_path / "split", base + ["train.epochs=1"])
    resumed = torchrun(tmp_path, tmp_path / "split", base + ["train.epochs=2"], resume=True)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight), "resume is not exact"
    assert (tmp_path / "straight" / "best" / "model.safetensors").is_file()

    tones = make_tone_dataset(tmp_path / "tones", {"train": 4, "val": 1})
    tuned = torchrun(tmp_path, tmp_path / "ft", [
        "model.name=ssast_tiny", "model.depth=1", "model.embed_dim=48",
        f"model.pretrained={tmp_path / 'straight' / 'best'}",
        "data.format=folder", f"data.root={tones}", "task.loss=ce", "frontend.target_frames=64",
        "optim.lr=1e-3", "schedule.warmup_steps=1", "train.epochs=1", "train.batch_size=2", "train.num_workers=0",
        "train.val_split=val", "train.test_split=null", "train.device=cpu"])
    assert "mlp_head.1.weight" in tuned or any(k.startswith("mlp_head") for k in tuned)
