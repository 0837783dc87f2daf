"""Layout fields through every door (create_model, `aum models convert --set`, a YAML model section) and load
reports that say only what happened."""

import pytest
import torch
import yaml

from aum.cli import main
from aum.models import (
    create_model,
    from_pretrained,
    get_config,
    load_checkpoint,
    parse_model_section,
    to_official_state_dict,
)


def test_rectangular_patches_from_yaml_lists_and_ints():
    section = yaml.safe_load("name: ssast_tiny\npatch_size: [128, 2]\npatch_stride: [128, 1]\ndepth: 1\n"
                             "input_frames: 40\nnum_classes: 2\n")
    name = section.pop("name")
    model = create_model(name, **section)
    assert model.config.patch_size == (128, 2) and model.config.patch_stride == (128, 1)
    assert model.built_grid == (1, 39) and model(torch.randn(1, 40, 128)).shape == (1, 2)
    assert get_config("ast_tiny", patch_stride=[16, 16]).patch_stride == 16  # a square pair is one int
    x = torch.randn(2, 40, 128)  # the no-overlap fast path equals the convolution for rectangular patches
    frame = create_model("ssast_tiny", depth=1, patch_size=(128, 2), patch_stride=(128, 2), input_frames=40)
    conv = frame.patch_embed.proj(x.transpose(1, 2).unsqueeze(1)).flatten(2).transpose(1, 2)
    torch.testing.assert_close(frame.patch_embed(x), conv)


def test_convert_sets_tuples_and_takes_fields_from_the_checkpoint(tmp_path, capsys):
    src = create_model("aum_tiny", depth=1, cls_position="double", patch_stride=16, input_frames=64)
    torch.save(to_official_state_dict(src), tmp_path / "double.pth")
    argv = ["models", "convert", str(tmp_path / "double.pth"), str(tmp_path / "out"), "--model", "aum_tiny",
            "--set", "depth=1", "--input-frames", "64"]
    assert main(argv) == 0
    assert "taken from the checkpoint: {'cls_position': 'double'}" in capsys.readouterr().out
    assert from_pretrained(tmp_path / "out").config.cls_position == "double"
    assert main(argv + ["--set", "cls_position=middle"]) == 1  # explicit and contradicting: named
    assert "pass cls_position=double" in capsys.readouterr().err
    frame = create_model("ssast_tiny", depth=1, patch_size=(128, 2), patch_stride=(128, 2), input_frames=64)
    torch.save(to_official_state_dict(frame), tmp_path / "frame.pth")
    argv = ["models", "convert", str(tmp_path / "frame.pth"), str(tmp_path / "f"), "--model", "ssast_tiny",
            "--set", "depth=1", "--set", "patch_size=128,2", "--set", "patch_stride=(128, 2)", "--input-frames",
            "64", "--set", "checkpoint_stride=128,2"]
    assert main(argv) == 0
    assert from_pretrained(tmp_path / "f").config.patch_size == (128, 2)
    assert main(["models", "info", "ssast_tiny", "--set", "patch_size=128,2", "--set", "patch_stride=128,2"]) == 0
    assert "patch grid 1 x 512" in capsys.readouterr().out


def test_yaml_model_section_passes_checkpoint_stride(tmp_path):
    src = create_model("ast_tiny", depth=1, num_classes=3, patch_stride=16, input_frames=192)  # 8x12 = 12x8
    torch.save(to_official_state_dict(src), tmp_path / "amb.pth")
    section = yaml.safe_load(f"name: ast_tiny\npretrained: {tmp_path / 'amb.pth'}\ncheckpoint_stride: 16\n"
                             "depth: 1\nnum_classes: 3\ninput_frames: 192\n")
    parsed = parse_model_section(section)  # a recipe's model section may carry checkpoint_stride
    assert parsed.checkpoint_stride == 16 and parsed.pretrained == str(tmp_path / "amb.pth")
    model = parsed.build()
    assert model.config.patch_stride == create_model(section.pop("name"), **section).config.patch_stride
    assert model.config.patch_stride == 16
    torch.testing.assert_close(model.pos_embed.pos_embed, src.pos_embed.pos_embed)


def test_reports_say_only_what_happened():
    frame = to_official_state_dict(create_model("ssast_tiny", depth=1, patch_size=(128, 2), patch_stride=(128, 2),
                                                input_frames=64))
    model = create_model("ssast_tiny", depth=1, input_frames=64)
    with pytest.raises(ValueError) as err:  # refused before anything is reshaped or reported as done
        load_checkpoint(model, frame)
    assert "reshape" not in str(err.value) and "interpolat" not in str(err.value)
    same = create_model("aum_tiny", depth=1, input_frames=64)
    report = load_checkpoint(create_model("aum_tiny", depth=1, input_frames=64), to_official_state_dict(same))
    assert not report.reshaped and not report.notes and str(report).count("\n") == 1  # header + variant line
    bad = to_official_state_dict(same)
    bad["layers.0.mixer.surprise"] = torch.zeros(1)
    report = load_checkpoint(create_model("aum_tiny", depth=1, input_frames=64), bad, strict=False)
    assert str(report).startswith("load report for state dict: ") and "PROBLEMS" in str(report)
    assert f"{len(same.state_dict())} tensors loaded" in str(report)
    strict = create_model("aum_tiny", depth=1, input_frames=32)  # another grid: positions would be adapted
    with pytest.raises(RuntimeError) as err:
        load_checkpoint(strict, bad)
    assert "nothing loaded, PROBLEMS" in str(err.value) and "would be reshaped (nothing was loaded)" in str(err.value)


def test_aum_positions_never_read_as_overlapping_patches():
    sd = to_official_state_dict(create_model("aum_tiny", depth=1, input_frames=192))  # 8 x 12 = 96 = 12 x 8
    report = load_checkpoint(create_model("aum_tiny", depth=1, input_frames=128), sd)
    assert report.ok and "grid 8x12 -> 8x8" in str(report)


def test_our_folders_give_their_stride_except_pretraining_encoders(tmp_path):
    from aum.models import load_checkpoint, save_pretrained

    save_pretrained(create_model("ast_tiny", depth=1, num_classes=3, patch_stride=16, input_frames=128), tmp_path / "c")
    assert create_model("ast_tiny", pretrained=tmp_path / "c", depth=1, num_classes=3).config.patch_stride == 16
    report = load_checkpoint(create_model("ast_tiny", depth=1, num_classes=3, input_frames=128), tmp_path / "c")
    assert "checkpoint patch stride (16, 16), model (10, 10)" in report.notes[0]
    save_pretrained(create_model("ssamba_tiny", depth=2, num_classes=0, patch_stride=16, input_frames=128),
                    tmp_path / "enc")
    ft = create_model("ssamba_tiny", pretrained=tmp_path / "enc", depth=2, num_classes=3, input_frames=128)
    assert ft.config.patch_stride == 10  # the fine-tuning recipe's overlap



def test_double_cls_tokens_are_not_weight_decayed():
    from aum.train.schedule import decays

    model = create_model("aum_tiny", depth=1, cls_position="double", input_frames=64)
    named = dict(model.named_parameters())
    assert not any(decays(name, named[name]) for name in ("cls_token_head", "cls_token_tail"))


@pytest.mark.parametrize("patch, frames, mel", [((3, 5), 37, 23), ((7, 2), 19, 29), ((128, 2), 41, 128)])
def test_rectangular_patch_fast_path_matches_the_convolution(patch, frames, mel):
    from aum.models.layers import PatchEmbed

    embed = PatchEmbed(8, patch, patch)
    x = torch.randn(2, frames, mel, requires_grad=True)
    fast = embed(x)
    conv = embed.proj(x.transpose(1, 2).unsqueeze(1)).flatten(2).transpose(1, 2)  # (B, N, D), frequency-major
    torch.testing.assert_close(fast, conv)
    g = torch.randn_like(fast)
    grads = torch.autograd.grad(fast, [x, embed.proj.weight, embed.proj.bias], g)
    want = torch.autograd.grad(conv, [x, embed.proj.weight, embed.proj.bias], g)
    for a, b in zip(grads, want):
        torch.testing.assert_close(a, b)
