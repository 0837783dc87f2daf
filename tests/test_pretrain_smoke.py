"""Masked patch pretraining end to end on CPU: encoders, the unlabeled data reader, a Trainer run whose loss falls,
and the pretrain -> fine-tune round trip."""

import csv
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from aum.data.unlabeled import UnlabeledData
from aum.models import create_model, save_pretrained
from aum.models.pretrain import MaskingConfig, encode_masked, masked_patch_losses, patch_targets

TINY = {"depth": 2, "embed_dim": 48, "input_frames": 64, "patch_stride": 16, "num_classes": 0}


@pytest.fixture
def one_thread():
    """The selective scan's small ops crawl when threads oversubscribe a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_tones(folder, count, seed=0, seconds=0.7):
    """Harmonic tones with a random pitch and a decaying envelope: structure the pretext task can learn."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    for i in range(count):
        f0 = rng.uniform(150, 900)
        wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5)) * np.exp(-t * rng.uniform(1, 6))
        wave = 0.3 * wave / np.abs(wave).max() + 0.003 * rng.standard_normal(len(t))
        sub = folder / f"speaker{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        sf.write(sub / f"clip{i:03d}.wav", wave.astype(np.float32), 16000)


@pytest.mark.parametrize("name", ["ssamba_tiny", "ssast_tiny", "aum_tiny"])
def test_every_encoder_pretrains(name, one_thread):
    model = create_model(name, pretrain_heads=True, **TINY)
    x = torch.randn(2, 64, 128)
    loss, logs = masked_patch_losses(model, x, MaskingConfig(mask_size=0.5))
    loss.backward()
    assert set(logs) == {"nce", "mse", "masked_acc"} and math.isfinite(float(loss.detach()))
    assert model.mask_embed.grad is not None and model.mask_embed.grad.abs().sum() > 0
    assert model.cpredlayer[0].weight.grad is not None and model.gpredlayer[0].weight.grad is not None


def test_mask_embed_replaces_patches_before_positions(one_thread):
    model = create_model("ssast_tiny", pretrain_heads=True, **TINY).eval()
    x = torch.randn(1, 64, 128)
    index = torch.tensor([[3, 5, 9]])
    tokens = model.patch_tokens(x)
    tokens[0, [3, 5, 9]] = model.mask_embed[0, 0]
    torch.testing.assert_close(encode_masked(model, x, index), model.encode_tokens(tokens)[:, [3, 5, 9]])
    # the model's patch tokens are the unfolded targets through the patch kernel (same order, same pixels)
    conv = model.patch_embed.proj
    expect = patch_targets(x) @ conv.weight.reshape(conv.out_channels, 256).T + conv.bias
    torch.testing.assert_close(model.patch_tokens(x), expect, rtol=1e-4, atol=1e-4)


def test_unlabeled_sources_mix_and_discard_labels(tmp_path):
    write_tones(tmp_path / "tree", 20)
    tree = UnlabeledData(root=str(tmp_path / "tree"), val_fraction=0.2)
    train, labels = tree.read("train")
    val, _ = tree.read("val")
    assert labels == [] and len(train) + len(val) == 20 and val and all(ex.target == [] for ex in train)
    both, _ = UnlabeledData(sources=[{"format": "audio_tree", "root": str(tmp_path / "tree")},
                                     {"format": "folder", "root": str(tmp_path / "tree")}]).read("train")
    assert len(both) > len(train) and all(ex.target == [] for ex in both)
    with pytest.raises(ValueError, match="either"):
        UnlabeledData()


def test_cpu_pretraining_loss_falls_then_finetune_loads_every_encoder_weight(tmp_path, one_thread):
    from aum.train import load_config, run_training

    write_tones(tmp_path / "audio", 48)
    cfg = load_config(None, [
        "model.name=ssamba_tiny", "model.depth=2", "model.embed_dim=48", "model.drop_path=0.0",
        "data.format=unlabeled", f"data.root={tmp_path / 'audio'}", "data.val_fraction=0.2",
        "task.name=pretrain", "task.mask_size=0.5", "frontend.target_frames=64",
        "optim.name=adamw", "optim.lr=2e-3", "optim.weight_decay=5e-8", "schedule.name=plateau",
        "schedule.warmup_steps=2", "train.epochs=6", "train.batch_size=8", "train.num_workers=0",
        "train.test_split=null", "train.log_every_steps=1", "train.device=cpu",
    ])
    summary = run_training(cfg, tmp_path / "run")
    with open(tmp_path / "run" / "logs" / "train.csv") as f:
        losses = [float(r["train/loss"] if "train/loss" in r else r["loss"]) for r in csv.DictReader(f)]
    assert len(losses) >= 20
    first, last = np.mean(losses[:4]), np.mean(losses[-4:])
    assert last < first, f"pretraining loss did not fall: {first:.3f} -> {last:.3f} ({losses})"
    assert summary["best_masked_acc"] is not None

    # fine-tune: stride-10 patches, positions adapted (8x4 -> 12x5), pretext heads dropped, a new head
    from aum.models.official import load_checkpoint

    model = create_model("ssamba_tiny", depth=2, embed_dim=48, input_frames=64, num_classes=5,
                         pretrain_heads=False)
    report = load_checkpoint(model, tmp_path / "run" / "best", strict=True)
    assert report.ok and not report.missing and not report.unexpected
    assert report.reshaped.keys() == {"pos_embed.pos_embed"}
    assert any("cpredlayer" in k for k in report.ignored) and any("mask_embed" in k for k in report.ignored)
    new = {r.split(" ")[0] for r in report.reinitialised}  # the new LayerNorm + Linear head, nothing else
    assert new and all(k.startswith("mlp_head.") for k in new)
    from aum.models import from_pretrained

    source = from_pretrained(tmp_path / "run" / "best").state_dict()
    target = model.state_dict()
    for key, value in source.items():  # every encoder weight arrived unchanged (positions: resampled)
        if key.startswith(("mask_embed", "cpredlayer", "gpredlayer", "mlp_head.1", "pos_embed")):
            continue
        assert torch.equal(target[key], value), key
    assert model(torch.randn(2, 64, 128)).shape == (2, 5)


def test_save_pretrained_round_trip_same_grid(tmp_path):
    model = create_model("aum_tiny", pretrain_heads=True, **TINY)
    save_pretrained(model, tmp_path / "enc")
    finetune = create_model("aum_tiny", depth=2, embed_dim=48, input_frames=64, num_classes=3)
    from aum.models.official import load_checkpoint

    report = load_checkpoint(finetune, tmp_path / "enc", strict=True)
    assert report.ok and not report.reshaped
    for key, value in model.state_dict().items():
        if not key.startswith(("mask_embed", "cpredlayer", "gpredlayer", "head")):
            assert torch.equal(finetune.state_dict()[key], value), key


def test_finetune_from_official_ssamba_pth(tmp_path):
    """An official SSAMBA pretraining checkpoint (DataParallel `module.v.*` names, p_input_fdim/tdim) initialises a
    stride-10 fine-tuning model: positions cut/interpolated from the pretraining grid, pretext heads dropped."""
    from aum.models import to_official_state_dict
    from aum.models.official import load_checkpoint

    pretrained = create_model("ssamba_tiny", depth=2, embed_dim=48, input_frames=128, patch_stride=16,
                              num_classes=0)
    official = {"module." + k: v for k, v in to_official_state_dict(pretrained).items()}
    official["module.p_input_fdim"], official["module.p_input_tdim"] = torch.tensor(128), torch.tensor(128)
    torch.save(official, tmp_path / "ssamba_tiny_official.pth")
    model = create_model("ssamba_tiny", depth=2, embed_dim=48, input_frames=128, num_classes=7, pretrain_heads=False)
    report = load_checkpoint(model, tmp_path / "ssamba_tiny_official.pth", strict=True)
    assert report.ok and "8x8 -> 12x12" in report.reshaped["pos_embed.pos_embed"]
    assert any(k.startswith("cpredlayer") for k in report.ignored)
    assert torch.equal(model.patch_embed.proj.weight, pretrained.patch_embed.proj.weight)  # kernel reused
    assert model.patch_embed.stride == (10, 10)


def tiny_pretraining(audio, batch_size: int) -> list[str]:
    """Overrides of a seconds-long SSAST pretraining run on the tones in `audio` (shared with the DDP test)."""
    return ["model.name=ssast_tiny", "model.depth=1", "model.embed_dim=48", "data.format=unlabeled",
            f"data.root={audio}", "data.val_fraction=0.2", "task.name=pretrain", "task.mask_size=0.5",
            "frontend.target_frames=64", "optim.name=adamw", "optim.lr=1e-3", "schedule.name=plateau",
            "schedule.warmup_steps=1", f"train.batch_size={batch_size}", "train.num_workers=0",
            "train.test_split=null", "train.device=cpu"]


def test_pretraining_resume_is_exact(tmp_path, one_thread):
    """Masks come from torch's global RNG, which the Trainer saves: stopping after epoch 1 and resuming gives the
    weights of an uninterrupted run, bit for bit."""
    from safetensors.torch import load_file

    from aum.train import load_config, run_training

    write_tones(tmp_path / "audio", 20)
    base = tiny_pretraining(tmp_path / "audio", batch_size=8)
    run_training(load_config(None, base + ["train.epochs=2"]), tmp_path / "straight")
    run_training(load_config(None, base + ["train.epochs=1"]), tmp_path / "split")
    run_training(load_config(None, base + ["train.epochs=2"]), tmp_path / "split", resume=True)
    a = load_file(str(tmp_path / "straight" / "last" / "model.safetensors"))
    b = load_file(str(tmp_path / "split" / "last" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
