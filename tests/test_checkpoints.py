"""Official checkpoint loading: key mapping, variant detection, grid resampling, heads, Vim ImageNet weights."""


import pytest
import torch
import torch.nn.functional as F

from aum.errors import CheckpointError
from aum.models import create_model, load_checkpoint, to_official_state_dict
from aum.models.official import read_state_dict


def small(name, **kw):
    kw.setdefault("depth", 2)
    return create_model(name, **kw)


def test_aum_official_round_trip_1024_frames_into_128(tmp_path):
    src = small("aum_tiny", num_classes=10)  # 8 x 64 grid
    sd = {"module." + k: v for k, v in to_official_state_dict(src).items()}  # DataParallel-style names
    torch.save(sd, tmp_path / "aum.pth")
    dst = small("aum_tiny", num_classes=10, input_frames=128)  # 8 x 8 grid
    report = load_checkpoint(dst, tmp_path / "aum.pth")
    assert report.ok and report.variant == "v1" and "pos_embed.pos_embed" in report.reshaped
    assert "8x64 -> 8x8" in str(report)
    pos = src.pos_embed.pos_embed.detach()
    grid = pos[:, 1:].reshape(1, 8, 64, 192).permute(0, 3, 1, 2)
    want = F.interpolate(grid, size=(8, 8), mode="bilinear", align_corners=False, antialias=True)  # timm / AuM
    want = want.permute(0, 2, 3, 1).reshape(1, 64, 192)
    torch.testing.assert_close(dst.pos_embed.pos_embed[:, 1:], want)
    torch.testing.assert_close(dst.pos_embed.pos_embed[:, :1], pos[:, :1])  # CLS slot first, kept
    torch.testing.assert_close(dst.layers[1].mixer.A_b_log, src.layers[1].mixer.A_b_log)
    torch.testing.assert_close(dst.head.weight, src.head.weight)


def test_same_grid_round_trip_is_exact():
    src, dst = small("aum_tiny", input_frames=64).eval(), small("aum_tiny", input_frames=64).eval()
    report = load_checkpoint(dst, to_official_state_dict(src))
    assert report.ok and not report.reshaped and report.loaded == len(src.state_dict())
    x = torch.randn(1, 64, 128)
    with torch.no_grad():
        torch.testing.assert_close(dst(x), src(x))


def test_variant_mismatch_is_reported_and_strict_raises():
    v2 = to_official_state_dict(small("aum_tiny", aum_type="v2", input_frames=64))
    model = small("aum_tiny", input_frames=64)  # v1
    with pytest.raises(RuntimeError, match="MISMATCH: model is v1"):
        load_checkpoint(model, v2)
    report = load_checkpoint(model, v2, strict=False)
    assert report.variant == "v2" and not report.ok and any("conv1d_b" in k for k in report.unexpected)


def test_head_dropped_when_class_count_differs_and_unknown_keys_raise():
    sd = to_official_state_dict(small("aum_tiny", num_classes=527, input_frames=64))
    model = small("aum_tiny", num_classes=35, input_frames=64)
    report = load_checkpoint(model, sd)
    assert report.ok and any(r.startswith("head.weight") for r in report.reinitialised)
    sd["layers.0.mixer.surprise"] = torch.zeros(1)
    with pytest.raises(RuntimeError, match="unexpected.*surprise"):
        load_checkpoint(model, sd)


@pytest.mark.parametrize("name", ["ssamba_tiny", "ssast_tiny", "ast_tiny"])
def test_vit_family_official_names(name):
    src = small(name, num_classes=4, input_frames=64)
    sd = to_official_state_dict(src)
    assert "v.pos_embed" in sd and "v.patch_embed.proj.weight" in sd and "mlp_head.1.weight" in sd
    sd["v.head.weight"] = torch.zeros(1000, 192)  # the unused ImageNet / Vim head of the official backbone
    dst = small(name, num_classes=4, input_frames=64)
    report = load_checkpoint(dst, {"module." + k: v for k, v in sd.items()})
    assert report.ok and report.ignored == ["v.head.weight"]
    torch.testing.assert_close(dst.pos_embed.pos_embed, src.pos_embed.pos_embed)


def test_ssl_pretrained_checkpoint_into_finetune_model():
    """SSAMBA pretraining (16x16, 1024 frames: 8 x 64) -> stride-10 fine-tuning at 128 frames (12 x 12): no head."""
    pre = small("ssamba_tiny", patch_stride=16)
    sd = {k: v for k, v in to_official_state_dict(pre).items() if not k.startswith("mlp_head.")}
    sd["p_input_fdim"], sd["p_input_tdim"] = torch.tensor(128), torch.tensor(1024)
    ft = small("ssamba_tiny", input_frames=128, num_classes=35)
    report = load_checkpoint(ft, sd)
    assert report.ok and "grid 8x64 -> 12x12: time centre-cropped 64 -> 12 (from index 26), frequency " \
                         "interpolated 8 -> 12" in str(report)
    assert {"mlp_head.1.weight (not in checkpoint)", "mlp_head.0.weight (not in checkpoint)"} <= set(
        report.reinitialised)
    grid = pre.pos_embed.pos_embed.detach()[:, 1:].reshape(1, 8, 64, 192).permute(0, 3, 1, 2)[..., 26:38]
    want = F.interpolate(grid, size=(12, 12), mode="bilinear", align_corners=False)
    torch.testing.assert_close(ft.pos_embed.pos_embed[:, 1:], want.permute(0, 2, 3, 1).reshape(1, 144, 192))


def test_vim_imagenet_weights_into_aum_small_v2(tmp_path):
    vim = {k: v for k, v in small("aum_small", aum_type="v2", num_classes=1000).state_dict().items()
           if not k.startswith("pos_embed")}
    vim["patch_embed.proj.weight"] = torch.randn(384, 3, 16, 16)
    vim["pos_embed"] = torch.randn(1, 197, 384)  # 14 x 14 with the CLS slot in the middle (index 98)
    torch.save({"model": vim}, tmp_path / "vim_s.pth")
    model = small("aum_small", aum_type="v2", num_classes=527, input_frames=128)
    report = load_checkpoint(model, tmp_path / "vim_s.pth")
    assert report.ok and report.variant == "v2"
    torch.testing.assert_close(model.patch_embed.proj.weight, vim["patch_embed.proj.weight"].mean(1, keepdim=True))
    torch.testing.assert_close(model.pos_embed.pos_embed[:, 0], vim["pos_embed"][:, 98])
    patches = torch.cat([vim["pos_embed"][:, :98], vim["pos_embed"][:, 99:]], dim=1)
    want = F.interpolate(patches.reshape(1, 14, 14, 384).permute(0, 3, 1, 2), size=(8, 8), mode="bilinear",
                         antialias=True).permute(0, 2, 3, 1).reshape(1, 64, 384)
    torch.testing.assert_close(model.pos_embed.pos_embed[:, 1:], want)
    assert "head.weight (ImageNet head)" in report.ignored


def test_read_state_dict_uses_weights_only(tmp_path):
    torch.save({"module.a": torch.ones(1), "obj": object()}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"refused: not a plain state dict \(pickled code\)"):
        read_state_dict(tmp_path / "bad.pth")
    with pytest.raises(FileNotFoundError):
        read_state_dict(tmp_path / "missing.pth")


def test_finetuned_checkpoint_into_headless_model_ignores_the_classifier():
    sd = to_official_state_dict(small("ssast_tiny", num_classes=5, input_frames=64, pretrain_heads=False))
    model = small("ssast_tiny", num_classes=0, input_frames=64)
    report = load_checkpoint(model, sd)
    assert report.ok and "mlp_head.1.weight (model has no such part)" in report.ignored
    assert "mask_embed (not in checkpoint)" in report.reinitialised


def test_create_model_from_our_folder_at_another_length(tmp_path):
    from aum.models import save_pretrained

    src = small("ast_tiny", input_frames=64, num_classes=3)  # 12 x 5 grid (stride 10)
    save_pretrained(src, tmp_path / "ast")
    dst = create_model("ast_tiny", pretrained=tmp_path / "ast", depth=2, input_frames=128, num_classes=3)
    assert dst.pos_embed.pos_embed.shape == (1, 2 + 12 * 12, 192)
    torch.testing.assert_close(dst.mlp_head[1].weight, src.mlp_head[1].weight)
