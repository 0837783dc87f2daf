"""Each official adaptation rule, computed here by hand (index arithmetic, F.interpolate as the official code calls it),
and the logits of the model our loader builds compared with a model given the hand-made weights directly.

Run with `-s` to see the max |delta| of every case (absolute and relative to the largest logit)."""

import pytest
import torch
import torch.nn.functional as F

from aum.models import create_model, load_checkpoint, to_official_state_dict

TOL = 1e-4  # max |delta| relative to the logit scale


def small(name, **kw):
    kw.setdefault("depth", 1)
    return create_model(name, **kw).eval()


def image(pos, n_f, n_t):
    """(1, n_f*n_t, D) patch positions -> (1, D, n_f, n_t)."""
    return pos.reshape(1, n_f, n_t, pos.shape[-1]).permute(0, 3, 1, 2)


def flat(img):
    return img.permute(0, 2, 3, 1).reshape(1, -1, img.shape[1])


def reference(name, state: dict, **kw):
    """A model of `name` given `state` (our names, already adapted by hand) with a plain strict load_state_dict."""
    model = small(name, **kw)
    own = model.state_dict()
    model.load_state_dict({k: state.get(k, own[k]) for k in own}, strict=True)
    return model


def compare(case, got_model, want_model, frames, mel=128):
    x = torch.randn(2, frames, mel, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got, want = got_model(x), want_model(x)
    delta = (got - want).abs().max().item()
    rel = delta / want.abs().max().item()
    print(f"\nCASE {case}: max|delta| {delta:.2e}, relative {rel:.2e}")
    assert rel <= TOL, f"{case}: relative {rel}"
    return rel


def test_aum_shrink_1024_to_128_is_antialiased():
    src = small("aum_tiny", num_classes=5)  # 8 x 64
    sd = to_official_state_dict(src)
    dst = small("aum_tiny", num_classes=5, input_frames=128)  # 8 x 8
    report = load_checkpoint(dst, sd)
    assert report.ok and "8x64 -> 8x8: bilinear with antialiasing" in str(report)
    pos = sd["pos_embed.pos_embed"]
    want = F.interpolate(image(pos[:, 1:], 8, 64), size=(8, 8), mode="bilinear", antialias=True)
    ref = reference("aum_tiny", {**sd, "pos_embed.pos_embed": torch.cat([pos[:, :1], flat(want)], 1)},
                    num_classes=5, input_frames=128)
    compare("AuM 1024->128 frames (antialiased)", dst, ref, 128)
    plain = F.interpolate(image(pos[:, 1:], 8, 64), size=(8, 8), mode="bilinear")
    assert (flat(plain) - flat(want)).abs().max() > 1e-3  # the rule matters


@pytest.mark.parametrize("mel, frames, rows, cols", [(128, 512, (0, 12), (25, 75)), (64, 512, (4, 9), (25, 75))])
def test_ast_audioset_to_shorter_input_is_centre_cropped(mel, frames, rows, cols):
    src = small("ast_tiny", num_classes=527)  # AudioSet layout: stride 10, 12 x 101
    sd = to_official_state_dict(src)
    dst = small("ast_tiny", num_classes=50, input_frames=frames, mel_bins=mel)
    report = load_checkpoint(dst, sd)
    n_f, n_t = dst.built_grid
    assert report.ok and (n_f, n_t) == (rows[1] - rows[0], cols[1] - cols[0])
    assert f"time centre-cropped 101 -> {n_t} (from index {cols[0]})" in str(report)
    pos = sd["v.pos_embed"]
    crop = image(pos[:, 2:], 12, 101)[:, :, rows[0]:rows[1], cols[0]:cols[1]]  # 50 - int(50 / 2) = 25
    state = {k[2:] if k.startswith("v.") else k: v for k, v in sd.items() if not k.startswith("mlp_head.1")}
    state["pos_embed.pos_embed"] = torch.cat([pos[:, :2], flat(crop)], 1)
    state.pop("v.pos_embed", None)
    ref = reference("ast_tiny", state, num_classes=50, input_frames=frames, mel_bins=mel)
    ref.mlp_head[1].load_state_dict(dst.mlp_head[1].state_dict())  # the new head is random on both sides
    compare(f"AST AudioSet -> {frames} frames, {mel} mel (crop)", dst, ref, frames, mel)


def test_ast_audioset_to_longer_input_is_stretched():
    sd = to_official_state_dict(small("ast_tiny", num_classes=3, input_frames=256))  # 12 x 25
    dst = small("ast_tiny", num_classes=3, input_frames=512)  # 12 x 50
    assert load_checkpoint(dst, sd).ok
    pos = sd["v.pos_embed"]
    want = F.interpolate(image(pos[:, 2:], 12, 25), size=(12, 50), mode="bilinear")
    state = {k[2:] if k.startswith("v.") else k: v for k, v in sd.items()}
    state["pos_embed.pos_embed"] = torch.cat([pos[:, :2], flat(want)], 1)
    compare("AST 256 -> 512 frames (stretch)", dst, reference("ast_tiny", state, num_classes=3, input_frames=512),
            512)


def deit(dim, side, classes=1000):
    """A DeiT ImageNet checkpoint as timm stores it: bare names, RGB kernel, CLS + dist + side x side positions."""
    sd = {k: v for k, v in small("ast_tiny", embed_dim=dim, num_heads=3, num_classes=0).state_dict().items()}
    sd["patch_embed.proj.weight"] = torch.randn(dim, 3, 16, 16) * 0.02
    sd["pos_embed"] = torch.randn(1, side * side + 2, dim) * 0.02
    sd.pop("pos_embed.pos_embed")
    sd["head.weight"], sd["head_dist.weight"] = torch.zeros(classes, dim), torch.zeros(classes, dim)
    return {"model": sd}


@pytest.mark.parametrize("side, rows", [(14, (1, 13)), (24, (6, 18))])  # DeiT-tiny 224 / DeiT-base 384 layouts
def test_deit_imagenet_into_ast_sums_rgb_and_crops_or_stretches(side, rows):
    ckpt = deit(192, side)
    dst = small("ast_tiny", num_classes=4)  # 12 x 101
    report = load_checkpoint(dst, ckpt)
    assert report.ok and f"grid {side}x{side} -> 12x101" in str(report)
    assert report.reshaped["patch_embed.proj.weight"] == "RGB kernel summed to 1 channel"
    sd = ckpt["model"]
    img = image(sd["pos_embed"][:, 2:], side, side)
    img = F.interpolate(img, size=(side, 101), mode="bilinear")  # time: 101 > side, stretched
    img = img[:, :, rows[0]:rows[1]]  # frequency: 12 <= side, int(side / 2) - int(12 / 2)
    state = dict(sd, **{"pos_embed.pos_embed": torch.cat([sd["pos_embed"][:, :2], flat(img)], 1),
                        "patch_embed.proj.weight": sd["patch_embed.proj.weight"].sum(1, keepdim=True)})
    ref = reference("ast_tiny", state, num_classes=4)
    ref.mlp_head.load_state_dict(dst.mlp_head.state_dict())
    compare(f"DeiT {side}x{side} ImageNet -> AST 1024 frames", dst, ref, 1024)


def test_stride16_ast_is_recognised_and_adopted(tmp_path):
    src = small("ast_tiny", num_classes=3, patch_stride=16, input_frames=256)  # 8 x 16 = 128 positions
    torch.save(to_official_state_dict(src), tmp_path / "ast16.pth")
    model = create_model("ast_tiny", pretrained=tmp_path / "ast16.pth", depth=1, num_classes=3,
                         input_frames=256).eval()
    assert model.config.patch_stride == 16  # taken from the checkpoint, not the stride-10 default
    compare("AST stride 16 (stride taken from checkpoint)", model, src, 256)
    into10 = small("ast_tiny", num_classes=3, input_frames=256)  # explicit stride 10: adapted and said so
    report = load_checkpoint(into10, tmp_path / "ast16.pth")
    assert "checkpoint patch stride (16, 16), model (10, 10)" in report.notes[0]
    assert "grid 8x16 -> 12x25" in str(report)


def test_ambiguous_position_count_names_checkpoint_stride(tmp_path):
    src = small("ast_tiny", num_classes=3, patch_stride=16, input_frames=16 * 12)  # 8 x 12 = 96 = 12 x 8
    sd = to_official_state_dict(src)
    model = small("ast_tiny", num_classes=3, input_frames=512)
    options = r"96 patch positions: 12x8 \(checkpoint_stride=10\) or 8x12 \(checkpoint_stride=16\)"
    with pytest.raises(ValueError, match=options):
        load_checkpoint(model, sd)
    assert load_checkpoint(model, sd, checkpoint_stride=16).ok
    torch.save(sd, tmp_path / "amb.pth")
    model = create_model("ast_tiny", pretrained=tmp_path / "amb.pth", checkpoint_stride=16, depth=1,
                         num_classes=3, input_frames=16 * 12).eval()
    assert model.config.patch_stride == 16
    compare("AST ambiguous count, checkpoint_stride=16", model, src, 16 * 12)


def test_aum_double_cls_token_layout(tmp_path):
    src = small("aum_tiny", num_classes=4, cls_position="double", input_frames=64)
    sd = to_official_state_dict(src)
    assert {"cls_token_head", "cls_token_tail"} <= set(sd) and sd["pos_embed.pos_embed"].shape[1] == 2 + 8 * 4
    with pytest.raises(ValueError, match="double CLS token .* pass cls_position=double"):
        load_checkpoint(small("aum_tiny", num_classes=4, input_frames=64), sd)
    torch.save(sd, tmp_path / "double.pth")
    model = create_model("aum_tiny", pretrained=tmp_path / "double.pth", depth=1, num_classes=4, input_frames=64)
    assert model.config.cls_position == "double"
    compare("AuM double CLS (same grid)", model.eval(), src, 64)
    x = torch.randn(2, 64, 128)
    with torch.no_grad():  # the official token order: head token, patches, tail token; output their mean
        pos = src.pos_embed.pos_embed
        h = src.patch_tokens(x) + pos[:, 2:]
        h = torch.cat([(src.cls_token_head + pos[:, :1]).expand(2, -1, -1), h,
                       (src.cls_token_tail + pos[:, 1:2]).expand(2, -1, -1)], 1)
        out = src._run_blocks(h)
        torch.testing.assert_close(src(x), src.head((out[:, 0] + out[:, -1]) / 2))
    shrunk = small("aum_tiny", num_classes=4, cls_position="double", input_frames=32)  # 8 x 4 -> 8 x 2
    assert load_checkpoint(shrunk, sd).ok
    torch.testing.assert_close(shrunk.pos_embed.pos_embed[:, :2], sd["pos_embed.pos_embed"][:, :2])


def test_aum_no_cls_token_is_inferred(tmp_path):
    src = small("aum_tiny", num_classes=4, cls_position="none", input_frames=64)
    torch.save(to_official_state_dict(src), tmp_path / "nocls.pth")
    model = create_model("aum_tiny", pretrained=tmp_path / "nocls.pth", depth=1, num_classes=4, input_frames=64)
    assert model.config.cls_position == "none"
    compare("AuM no CLS (same grid)", model.eval(), src, 64)


def test_ssast_frame_patches_128x2(tmp_path):
    pre = small("ssast_tiny", patch_size=(128, 2), patch_stride=(128, 2), input_frames=64, num_classes=0)
    sd = {k: v for k, v in to_official_state_dict(pre).items() if not k.startswith("mlp_head")}
    sd["p_input_fdim"], sd["p_input_tdim"] = torch.tensor(128), torch.tensor(64)  # 1 x 32 frame patches
    with pytest.raises(ValueError, match=r"checkpoint patches are 128x2 .* pass patch_size=\(128, 2\)"):
        load_checkpoint(small("ssast_tiny", num_classes=2, input_frames=40), sd)
    torch.save(sd, tmp_path / "frame.pth")
    model = create_model("ssast_tiny", pretrained=tmp_path / "frame.pth", depth=1, num_classes=2,
                         input_frames=40).eval()
    assert model.config.patch_size == (128, 2) and model.config.patch_stride == (128, 2)
    assert model.built_grid == (1, 20)
    pos = sd["v.pos_embed"]
    crop = image(pos[:, 2:], 1, 32)[..., 6:26]  # int(32 / 2) - int(20 / 2) = 6
    state = {k[2:] if k.startswith("v.") else k: v for k, v in sd.items() if not k.startswith("p_input")}
    state["pos_embed.pos_embed"] = torch.cat([pos[:, :2], flat(crop)], 1)
    ref = reference("ssast_tiny", state, num_classes=2, input_frames=40, patch_size=(128, 2),
                    patch_stride=(128, 2))
    ref.mlp_head.load_state_dict(model.mlp_head.state_dict())
    compare("SSAST frame patches 128x2, 64 -> 40 frames (crop)", model, ref, 40)


def test_ssamba_ssl_to_finetune_crops_time_and_stretches_frequency():
    pre = small("ssamba_tiny", depth=2, patch_stride=16, input_frames=256, num_classes=0)  # 8 x 16
    sd = {k: v for k, v in to_official_state_dict(pre).items() if not k.startswith("mlp_head")}
    sd["p_input_fdim"], sd["p_input_tdim"] = torch.tensor(128), torch.tensor(256)
    ft = small("ssamba_tiny", depth=2, input_frames=128, num_classes=3)  # stride 10: 12 x 12
    assert load_checkpoint(ft, sd).ok
    pos = sd["v.pos_embed"]
    img = image(pos[:, 1:], 8, 16)[..., 2:14]  # int(16 / 2) - int(12 / 2) = 2
    img = F.interpolate(img, size=(12, 12), mode="bilinear")
    state = {k[2:] if k.startswith("v.") else k: v for k, v in sd.items() if not k.startswith("p_input")}
    state["pos_embed.pos_embed"] = torch.cat([pos[:, :1], flat(img)], 1)
    ref = reference("ssamba_tiny", state, depth=2, input_frames=128, num_classes=3)
    ref.mlp_head.load_state_dict(ft.mlp_head.state_dict())
    compare("SSAMBA SSL 8x16 -> fine-tune 12x12 (crop + stretch)", ft.eval(), ref.eval(), 128)


def test_vim_double_cls_imagenet_into_aum_double():
    model = small("aum_tiny", num_classes=3, cls_position="double", input_frames=64)  # 8 x 4
    vim = {k: v for k, v in model.state_dict().items() if not k.startswith(("pos_embed", "head."))}
    vim["patch_embed.proj.weight"] = torch.randn(192, 3, 16, 16) * 0.02
    vim["pos_embed"] = torch.randn(1, 2 + 196, 192) * 0.02  # head slot first, tail slot last, 14 x 14 between
    vim["head.weight"], vim["head.bias"] = torch.zeros(1000, 192), torch.zeros(1000)
    report = load_checkpoint(model, {"model": vim})
    assert report.ok and report.reshaped["patch_embed.proj.weight"] == "RGB kernel averaged to 1 channel"
    pos = vim["pos_embed"]
    grid = F.interpolate(image(pos[:, 1:-1], 14, 14), size=(8, 4), mode="bilinear", antialias=True)
    state = dict(vim, **{"pos_embed.pos_embed": torch.cat([pos[:, :1], pos[:, -1:], flat(grid)], 1),
                         "patch_embed.proj.weight": vim["patch_embed.proj.weight"].mean(1, keepdim=True)})
    state = {k: v for k, v in state.items() if not k.startswith("head.")}
    ref = reference("aum_tiny", state, num_classes=3, cls_position="double", input_frames=64)
    ref.head.load_state_dict(model.head.state_dict())
    compare("Vim double-CLS ImageNet -> AuM double 64 frames", model, ref, 64)
