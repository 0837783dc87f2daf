"""Two CPU processes under torchrun (gloo): DistributedDataParallel training ends with identical weights on
both ranks, and rank 0 alone writes the checkpoints."""

import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from test_train_fixtures import make_tone_dataset, tiny_recipe, write_recipe

WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path

    import torch

    from aum.train.config import load_config
    from aum.train.distributed import cleanup_distributed, setup_distributed
    from aum.data import SplitIndex
    from aum.train.run import build_trainer

    cfg, out = load_config(sys.argv[1]), Path(sys.argv[2])
    info, device = setup_distributed(cfg.train.device)
    assert info.world_size == 2
    trainer, _, _ = build_trainer(cfg, SplitIndex(cfg.data), out, info, device)
    trainer.fit()
    torch.save(trainer.model.state_dict(), out / f"rank{info.rank}.pt")
    torch.distributed.barrier()  # as run_training does: the ranks leave together
    cleanup_distributed()
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    root = make_tone_dataset(tmp_path / "tones", {"train": 6, "val": 1})
    recipe = write_recipe(tmp_path / "r.yaml", tiny_recipe(root, train={
        "epochs": 1, "batch_size": 2, "test_split": None}, augment={"freqm": 4}, optim={"accum_steps": 2}))
    (tmp_path / "worker.py").write_text(WORKER)
    out = tmp_path / "run"
    out.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", str(tmp_path / "worker.py"), str(recipe), str(out)]
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0, w1 = torch.load(out / "rank0.pt"), torch.load(out / "rank1.pt")
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    assert (out / "last" / "trainer_state.pt").is_file() and (out / "best" / "model.safetensors").is_file()
    state = torch.load(out / "last" / "trainer_state.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2 and state["step"] == 2  # 12 clips / (2 x 2) / 2
