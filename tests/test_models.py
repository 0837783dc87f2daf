"""Model zoo: parameter counts, official layouts, every registered name runs, bidirectionality, hooks, save/load."""

import math

import pytest
import torch
import torch.nn.functional as F

from aum.models import create_model, from_pretrained, get_config, list_models, save_pretrained
from aum.models.mamba import MambaMixer
from aum.ops import selective_scan_ref

NAMES = [f"{f}_{s}" for f in ("aum", "ssamba", "ast", "ssast") for s in ("tiny", "small", "base")]


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_registry_lists_every_name():
    assert list_models() == sorted(NAMES)
    assert list_models("aum_*") == ["aum_base", "aum_small", "aum_tiny"]


@pytest.mark.parametrize("name,overrides,expected", [
    ("aum_base", {}, 92_107_535),
    ("aum_base", {"num_classes": 35, "input_frames": 128}, 91_385_123),
    ("aum_small", {"aum_type": "v2"}, 25_539_215),
    ("aum_small", {}, 23_935_631),
    ("aum_tiny", {}, 6_438_479),
    ("aum_base", {"aum_type": "v2"}, 97_084_175),
])
def test_exact_parameter_counts(name, overrides, expected):
    with torch.device("meta"):
        assert n_params(create_model(name, num_classes=overrides.pop("num_classes", 527), **overrides)) == expected


def official_aum_base_shapes(v2=False, classes=527, patches=512, depth=24):
    shapes = {"cls_token": (1, 1, 768), "head.weight": (classes, 768), "head.bias": (classes,),
              "norm_f.weight": (768,), "patch_embed.proj.weight": (768, 1, 16, 16), "patch_embed.proj.bias": (768,),
              "pos_embed.pos_embed": (1, patches + 1, 768)}
    for i in range(depth):
        m = f"layers.{i}.mixer."
        shapes.update({m + "A_log": (1536, 16), m + "D": (1536,), m + "A_b_log": (1536, 16),
                       m + "in_proj.weight": (3072, 768), m + "conv1d.weight": (1536, 1, 4), m + "conv1d.bias": (1536,),
                       m + "x_proj.weight": (80, 1536), m + "dt_proj.weight": (1536, 48), m + "dt_proj.bias": (1536,),
                       m + "out_proj.weight": (768, 1536), f"layers.{i}.norm.weight": (768,)})
        if v2:
            shapes.update({m + "D_b": (1536,), m + "conv1d_b.weight": (1536, 1, 4), m + "conv1d_b.bias": (1536,),
                           m + "x_proj_b.weight": (80, 1536), m + "dt_proj_b.weight": (1536, 48),
                           m + "dt_proj_b.bias": (1536,)})
    return shapes


@pytest.mark.parametrize("aum_type", ["v1", "v2"])
def test_state_dict_names_and_shapes_equal_official(aum_type):
    with torch.device("meta"):
        model = create_model("aum_base", aum_type=aum_type)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == official_aum_base_shapes(v2=aum_type == "v2")


def test_ssamba_and_ssast_layout():
    with torch.device("meta"):
        ssamba, ssast = create_model("ssamba_tiny", depth=2), create_model("ssast_tiny", depth=1)
    sd = ssamba.state_dict()
    assert {"layers.0.norm.bias", "layers.1.mixer.conv1d_b.weight", "norm_f.bias", "mask_embed",
            "cpredlayer.2.weight", "gpredlayer.0.weight", "mlp_head.0.weight", "mlp_head.1.bias"} <= set(sd)
    assert sd["pos_embed.pos_embed"].shape == (1, 1 + 12 * 101, 192)  # stride 10 fine-tuning grid
    sd = ssast.state_dict()
    assert {"cls_token", "dist_token", "blocks.0.attn.qkv.weight", "blocks.0.mlp.fc2.bias", "norm.weight",
            "mlp_head.1.weight", "mask_embed"} <= set(sd)
    assert sd["pos_embed.pos_embed"].shape == (1, 2 + 12 * 101, 192)
    assert sd["cpredlayer.2.weight"].shape == (256, 192)


@pytest.mark.parametrize("name", NAMES)
def test_every_model_runs_forward_and_backward(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=3, input_frames=32, depth=2)
    x = torch.randn(2, 32, 128, requires_grad=True)
    logits = model(x)
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert model.patch_embed.proj.weight.grad is not None


def _reference_mixer(mixer: MambaMixer, hidden):
    """Official formulation with explicit flips (causal conv on the flipped sequence for v2)."""
    xz = mixer.in_proj(hidden).transpose(1, 2)

    def branch(xz, conv, x_proj, dt_proj, A_log, D):
        x, z = xz.chunk(2, dim=1)
        u = F.silu(conv(x)[..., :x.shape[-1]])
        dt, b, c = x_proj(u.transpose(1, 2)).split([mixer.dt_rank, mixer.d_state, mixer.d_state], dim=-1)
        delta = (dt @ dt_proj.weight.T).transpose(1, 2)
        b, c = b.transpose(1, 2), c.transpose(1, 2)
        y = selective_scan_ref(u, delta, -torch.exp(A_log), b, c, D, z, dt_proj.bias, delta_softplus=True)
        return y, (u, delta, b, c, z)

    y, (u, delta, b, c, z) = branch(xz, mixer.conv1d, mixer.x_proj, mixer.dt_proj, mixer.A_log, mixer.D)
    if mixer.mixer_type == "v1":
        y_b = selective_scan_ref(u.flip(-1), delta.flip(-1), -torch.exp(mixer.A_b_log), b.flip(-1), c.flip(-1),
                                 mixer.D, z.flip(-1), mixer.dt_proj.bias, delta_softplus=True)
        y = y + y_b.flip(-1)
    elif mixer.mixer_type == "v2":
        y_b, _ = branch(xz.flip(-1), mixer.conv1d_b, mixer.x_proj_b, mixer.dt_proj_b, mixer.A_b_log, mixer.D_b)
        y = (y + y_b.flip(-1)) / 2
    return mixer.out_proj(y.transpose(1, 2))


@pytest.mark.parametrize("mixer_type", ["v1", "v2", "none"])
def test_mixer_matches_flip_formulation(mixer_type):
    torch.manual_seed(0)
    mixer = MambaMixer(16, d_state=4, mixer_type=mixer_type)
    for p in mixer.parameters():  # non-trivial conv / D so that an ordering error shows
        p.data += 0.1 * torch.randn_like(p)
    hidden = torch.randn(2, 11, 16)
    torch.testing.assert_close(mixer(hidden), _reference_mixer(mixer, hidden), rtol=1e-4, atol=1e-5)


def test_bidirectionality_middle_cls():
    torch.manual_seed(0)
    x = torch.randn(1, 64, 128)
    x2 = x.clone()
    x2[:, -1] += 3.0  # only the last frame changes: only the last time-column patches see it
    for aum_type, bidirectional in (("v1", True), ("v2", True), ("none", False)):
        model = create_model("aum_tiny", aum_type=aum_type, input_frames=64, depth=2).eval()
        with torch.no_grad():
            a, b = model.forward_features(x), model.forward_features(x2)
        cls = model.cls_index(a.shape[1] - 1)
        assert cls == 16  # middle of 32 patches
        assert not torch.allclose(a[:, cls], b[:, cls]), aum_type  # CLS sits before the last patch row's tail
        assert torch.allclose(a[:, 0], b[:, 0]) != bidirectional, aum_type


def test_any_input_length_interpolates_positions():
    model = create_model("aum_tiny", depth=1, num_classes=4).eval()  # built for 1024 frames (8 x 64)
    for frames in (16, 200, 1030):
        assert model(torch.randn(1, frames, 128)).shape == (1, 4)
    assert model.patch_grid(200) == (8, 12)


@pytest.mark.parametrize("name,overrides", [("aum_tiny", {}), ("aum_tiny", {"cls_position": "tail"}),
                                            ("ssamba_tiny", {}), ("ast_tiny", {}), ("aum_tiny",
                                                                                    {"cls_position": "none"})])
def test_pretraining_hooks_agree_with_forward_features(name, overrides):
    torch.manual_seed(0)
    model = create_model(name, input_frames=32, depth=2, patch_stride=16, **overrides).eval()
    x = torch.randn(2, 32, 128)
    tokens = model.patch_tokens(x)
    assert tokens.shape == (2, 8 * 2, model.config.embed_dim) and model.patch_grid(32) == (8, 2)
    with torch.no_grad():
        enc, full = model.encode_tokens(tokens), model.forward_features(x)
    i, p = model.cls_index(16), model.num_prefix_tokens
    torch.testing.assert_close(enc, torch.cat([full[:, :i], full[:, i + p:]], dim=1))


def test_pretrain_heads_on_aum_and_pooling():
    model = create_model("aum_tiny", depth=1, pretrain_heads=True, cls_position="none", input_frames=32)
    assert model.mask_embed.shape == (1, 1, 192) and model.cpredlayer[2].out_features == 256
    tokens = model.forward_features(torch.randn(1, 32, 128))
    torch.testing.assert_close(model.forward_head(tokens, pre_logits=True), tokens.mean(dim=1))
    with pytest.raises(ValueError, match="unknown config field"):
        create_model("aum_tiny", not_a_field=1)
    with pytest.raises(ValueError, match="needs a CLS token"):
        get_config("aum_tiny", cls_position="none", pool="cls")


def test_ast_pools_cls_and_dist_and_naive_attention_matches_sdpa():
    torch.manual_seed(0)
    model = create_model("ast_tiny", depth=2, input_frames=32, num_classes=2).eval()
    naive = create_model("ast_tiny", depth=2, input_frames=32, num_classes=2, attention="naive").eval()
    naive.load_state_dict(model.state_dict())
    x = torch.randn(2, 32, 128)
    with torch.no_grad():
        tokens = model.forward_features(x)
        torch.testing.assert_close(model.forward_head(tokens, pre_logits=True), tokens[:, :2].mean(dim=1))
        torch.testing.assert_close(naive(x), model(x), rtol=1e-4, atol=1e-5)


def test_reset_classifier_and_save_from_pretrained(tmp_path):
    model = create_model("ssamba_tiny", depth=2, input_frames=32, num_classes=5)
    model.reset_classifier(7)
    assert model.config.num_classes == 7 and model.mlp_head[1].out_features == 7
    save_pretrained(model, tmp_path / "m", meta={"labels": list("abcdefg")})
    loaded = from_pretrained(tmp_path / "m")
    assert loaded.model_name == "ssamba_tiny" and loaded.meta == {"labels": list("abcdefg")}
    assert loaded.config == model.config
    x = torch.randn(1, 32, 128)
    model.eval(), loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    reloaded = create_model("ssamba_tiny", pretrained=tmp_path / "m", depth=2, input_frames=32, num_classes=7)
    torch.testing.assert_close(reloaded.mlp_head[1].weight, model.mlp_head[1].weight)


def test_official_init():
    model = create_model("aum_tiny", depth=2)
    mixer = model.layers[0].mixer
    assert torch.equal(mixer.A_log[0], torch.log(torch.arange(1, 17.0))) and torch.equal(mixer.D, torch.ones(384))
    dt = F.softplus(mixer.dt_proj.bias)
    assert dt.min() >= 1e-4 - 1e-7 and dt.max() <= 0.1 + 1e-6
    assert mixer.dt_proj.weight.abs().max() <= mixer.dt_rank ** -0.5
    assert model.head.bias.abs().sum() == 0 and mixer.out_proj.weight.abs().max() <= 1 / math.sqrt(384 * 2) + 1e-6


@pytest.mark.parametrize("frames,bins", [(64, 128), (37, 40)])
def test_patch_embed_fast_path_equals_conv(frames, bins):
    from aum.models.layers import PatchEmbed

    embed = PatchEmbed(8, 16, 16)
    x = torch.randn(2, frames, bins)
    ref = embed.proj(x.unsqueeze(1).transpose(2, 3)).flatten(2).transpose(1, 2)  # (B, N, D), frequency-major
    torch.testing.assert_close(embed(x), ref, rtol=1e-5, atol=1e-5)


def test_frames_seen_by_the_patches():
    """The Conv2d drops a remainder under one stride: those last frames reach no patch (the gradient tells)."""
    from aum.models.layers import PatchEmbed

    for size, stride, frames, seen in ((16, 10, 100, 96), (16, 16, 100, 96), (16, 10, 96, 96), (16, 10, 128, 126),
                                       ((128, 2), (128, 1), 37, 37)):
        embed = PatchEmbed(4, size, stride)
        assert embed.frames_seen(frames) == seen
        x = torch.randn(1, frames, 128, requires_grad=True)
        embed(x).sum().backward()
        assert int((x.grad.abs().sum(dim=2) > 0).sum()) == seen


def test_depthwise_convs_match_conv1d():
    from aum.models.mamba import anticausal_conv, causal_conv

    conv = torch.nn.Conv1d(6, 6, 4, groups=6, padding=3)
    x = torch.randn(2, 6, 9)
    torch.testing.assert_close(causal_conv(x, conv), conv(x)[..., :9])
    torch.testing.assert_close(anticausal_conv(x, conv), conv(x.flip(-1))[..., :9].flip(-1))


def test_no_classifier_for_pretraining():
    model = create_model("ssamba_tiny", depth=2, input_frames=32, num_classes=0, patch_stride=16)
    assert not any(k.startswith("mlp_head") for k in model.state_dict())
    assert model(torch.randn(1, 32, 128)).shape == (1, 192)


def test_ssamba_pairs_flip_and_applies_norm_f_twice():
    torch.manual_seed(0)
    model = create_model("ssamba_tiny", depth=2, input_frames=32, patch_stride=16, num_classes=2).eval()
    x = torch.randn(1, 32, 128)
    with torch.no_grad():
        h = torch.cat([model.cls_token, model.patch_tokens(x)], dim=1) + model.pos_embed.pos_embed  # CLS at 0
        h_f, r_f = model.layers[0](h, None)
        h_b, r_b = model.layers[1](h.flip(1), None)
        want = model.norm_f(model.norm_f(r_f + r_b.flip(1) + h_f + h_b.flip(1)))
        torch.testing.assert_close(model.forward_features(x), want)
        torch.testing.assert_close(model(x), model.mlp_head(want[:, 1:].mean(dim=1)))  # ft_avgtok
