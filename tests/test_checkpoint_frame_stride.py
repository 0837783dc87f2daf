"""Frame-patch checkpoints (128x2 patches, one frequency row) do not record their time stride: the loader takes the
stride that gives the stored grid at the model's frames, and never resizes a frame grid on a guess.

Run with `-s` to see the max |delta| of the no-stride-given load."""

import pytest
import torch

from aum.errors import CheckpointError
from aum.models import create_model, load_checkpoint, to_official_state_dict

FRAME = {"patch_size": (128, 2), "depth": 1, "num_classes": 3}


@pytest.fixture
def frame_file(tmp_path):
    """A fine-tuned frame SSAST at 512 frames, stride (128, 2): 1 x 256 positions, no `p_input_*` fields."""
    src = create_model("ssast_tiny", patch_stride=(128, 2), input_frames=512, **FRAME).eval()
    assert src.built_grid == (1, 256)
    torch.save(to_official_state_dict(src), tmp_path / "frame.pth")
    return src, tmp_path / "frame.pth"


def test_frame_stride_is_taken_from_the_grid_at_the_model_frames(frame_file):
    src, path = frame_file
    model = create_model("ssast_tiny", pretrained=path, input_frames=512, **FRAME).eval()
    assert model.config.patch_stride == (128, 2)
    torch.testing.assert_close(model.pos_embed.pos_embed, src.pos_embed.pos_embed, rtol=0, atol=0)  # kept
    x = torch.randn(2, 512, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got, want = model(x), src(x)
    print(f"\nframe file, no stride given: max|delta| {(got - want).abs().max().item():.2e}")
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_frame_grid_is_never_resized_on_a_guess(frame_file):
    _, path = frame_file  # at 1024 frames: (128, 2) gives 1x512, (128, 1) 1x1023, the default 10 1x103; none 1x256
    with pytest.raises(CheckpointError) as err:
        create_model("ssast_tiny", pretrained=path, input_frames=1024, **FRAME)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "1x256" in msg and "checkpoint_stride=(128, t)" in msg
    assert "patch_stride=(128, t)" in msg and "skips frames" in msg  # stride 10 > patch width 2
    model = create_model("ssast_tiny", pretrained=path, input_frames=1024, checkpoint_stride=(128, 2), **FRAME)
    assert model.config.patch_stride == (128, 2) and model.built_grid == (1, 512)
    report = load_checkpoint(create_model("ssast_tiny", patch_stride=(128, 2), input_frames=1024, **FRAME), path,
                           checkpoint_stride=(128, 2))
    assert "grid 1x256 -> 1x512: time interpolated 256 -> 512" in report.reshaped["pos_embed.pos_embed"]
    assert any(n.startswith("frame positions read at checkpoint_stride (128, 2)") for n in report.notes)


def test_a_model_of_another_stride_is_refused_with_the_stride_that_fits(frame_file):
    _, path = frame_file
    overlap = create_model("ssast_tiny", patch_stride=(128, 1), input_frames=512, **FRAME)  # 1x511
    with pytest.raises(CheckpointError, match=r"stride \(128, 2\) would give 1x256: pass checkpoint_stride"):
        load_checkpoint(overlap, path)
    report = load_checkpoint(overlap, path, checkpoint_stride=(128, 2))  # said how it was made: adapted, and said so
    assert "checkpoint patch stride (128, 2), model (128, 1)" in report.notes[0]


def test_official_frame_fine_tuning_stride_1_is_recognised(tmp_path):
    src = create_model("ssast_tiny", patch_stride=(128, 1), input_frames=128, **FRAME).eval()  # 1 x 127
    torch.save(to_official_state_dict(src), tmp_path / "sc.pth")
    model = create_model("ssast_tiny", pretrained=tmp_path / "sc.pth", input_frames=128, **FRAME).eval()
    assert model.config.patch_stride == (128, 1)
    torch.testing.assert_close(model.pos_embed.pos_embed, src.pos_embed.pos_embed, rtol=0, atol=0)


def test_a_stride_wider_than_the_patch_is_noted(frame_file):
    src, _ = frame_file
    gappy = create_model("ssast_tiny", patch_stride=10, input_frames=2552, **FRAME)  # 1 x 256 at stride 10
    report = load_checkpoint(gappy, to_official_state_dict(src))
    assert report.ok and not report.reshaped
    assert "model stride 10 exceeds its patch (128, 2): 8 of every 10 frames reach no patch" in report.notes
