"""HuggingFace `ASTForAudioClassification` folders <-> our AST, checked against `transformers` itself (dev extra).

Run with `-s` to see the max |delta| of every case (absolute and relative to the largest logit)."""

import json

import pytest
import torch

from aum.cli import main
from aum.errors import ConfigError
from aum.models import create_model, from_pretrained, save_pretrained

transformers = pytest.importorskip("transformers")
TOL = 1e-5


def perturb(module, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    return module


def hf_folder(tmp_path, **kw):
    """A small random ASTForAudioClassification (rectangular stride) saved the way transformers saves it."""
    cfg = transformers.ASTConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
                                 max_length=100, num_mel_bins=64, frequency_stride=10, time_stride=12,
                                 id2label={0: "dog", 1: "cat", 2: "rain"}, label2id={"dog": 0, "cat": 1, "rain": 2},
                                 **kw)
    hf = perturb(transformers.ASTForAudioClassification(cfg)).eval()
    hf.save_pretrained(tmp_path / "hf")
    transformers.ASTFeatureExtractor(num_mel_bins=64, max_length=100, mean=-5.5, std=3.25).save_pretrained(
        tmp_path / "hf")
    return hf, tmp_path / "hf"


def compare(case, ours, hf, frames=100, mel=64, rel_tol=None):
    x = torch.randn(2, frames, mel, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got, want = ours(x), hf(input_values=x).logits
    delta = (got - want).abs().max().item()
    rel = delta / want.abs().max().item()
    print(f"\nCASE {case}: max|delta| {delta:.2e}, relative {rel:.2e}")
    assert (rel <= rel_tol) if rel_tol else (delta <= TOL), f"{case}: {delta} ({rel} relative)"
    return delta


def test_hf_folder_loads_with_labels_and_features(tmp_path):
    hf, folder = hf_folder(tmp_path)
    model = from_pretrained(folder).eval()
    assert model.config.patch_stride == (10, 12) and model.config.norm_eps == 1e-12
    assert model.meta["labels"] == ["dog", "cat", "rain"]
    assert model.meta["frontend"] == {"sample_rate": 16000, "num_mel_bins": 64, "target_frames": 100,
                                      "mean": -5.5, "std": 3.25}
    compare("HF -> ours (from_pretrained)", model, hf)
    made = create_model("ast_base", pretrained=folder).eval()  # architecture taken from the folder
    assert made.config.embed_dim == 48 and made.meta["labels"] == ["dog", "cat", "rain"]
    compare("HF -> ours (create_model ast_base)", made, hf)


def test_hf_folder_without_features_names_the_missing_file(tmp_path):
    _, folder = hf_folder(tmp_path)
    (folder / "preprocessor_config.json").unlink()
    model = from_pretrained(folder)
    with pytest.raises(ConfigError, match=r"hf: no frontend recorded .* preprocessor_config.json"):
        model.frontend()


def test_our_ast_exports_to_hf(tmp_path, capsys):
    ours = perturb(create_model("ast_tiny", embed_dim=48, num_heads=4, depth=2, input_frames=100, mel_bins=64,
                                num_classes=3, patch_stride=(10, 12), norm_eps=1e-12, head_norm_eps=1e-12)).eval()
    ours.meta = {"labels": ["a", "b", "c"], "frontend": {"sample_rate": 16000, "num_mel_bins": 64,
                                                         "target_frames": 100, "mean": -6.0, "std": 5.0}}
    save_pretrained(ours, tmp_path / "ours")
    assert main(["models", "export-hf", str(tmp_path / "ours"), str(tmp_path / "hf")]) == 0
    assert "ASTForAudioClassification" in capsys.readouterr().out
    hf = transformers.ASTForAudioClassification.from_pretrained(tmp_path / "hf").eval()
    assert hf.config.id2label == {0: "a", 1: "b", 2: "c"}
    feats = transformers.ASTFeatureExtractor.from_pretrained(tmp_path / "hf")
    assert (feats.mean, feats.std, feats.max_length, feats.num_mel_bins) == (-6.0, 5.0, 100, 64)
    compare("ours -> HF (export-hf)", ours, hf)
    back = from_pretrained(tmp_path / "hf").eval()
    compare("ours -> HF -> ours", back, hf)


def test_default_ast_exports_with_one_eps(tmp_path, caplog):
    """Our AST's head LayerNorm has eps 1e-5, HuggingFace one eps for all: said in a warning, logits barely move."""
    from aum.models.huggingface import export_hf

    torch.manual_seed(0)
    ours = perturb(create_model("ast_tiny", depth=2, input_frames=100, mel_bins=64, num_classes=3)).eval()
    export_hf(ours, tmp_path / "hf")
    assert "the head's 1e-05 becomes 1e-06" in caplog.text
    hf = transformers.ASTForAudioClassification.from_pretrained(tmp_path / "hf").eval()
    compare("ours (head eps 1e-5) -> HF (eps 1e-6)", ours, hf, rel_tol=1e-4)


def test_folders_that_are_not_ours_are_named(tmp_path, capsys):
    other = tmp_path / "w2v"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "wav2vec2", "architectures": ["Wav2Vec2Model"]}))
    with pytest.raises(ValueError, match="describes 'wav2vec2' \\(Wav2Vec2Model\\)"):
        from_pretrained(other)
    bare = tmp_path / "bare"
    bare.mkdir()
    torch.save({}, bare / "best.pth")
    with pytest.raises(FileNotFoundError, match="expected config.json and model.safetensors .*; found best.pth"):
        from_pretrained(bare)
    aum_dir = tmp_path / "aum"
    save_pretrained(create_model("aum_tiny", depth=1, input_frames=64), aum_dir)
    assert main(["models", "export-hf", str(aum_dir), str(tmp_path / "x")]) == 1
    assert "cannot be written as ASTForAudioClassification: family 'aum'" in capsys.readouterr().err


def test_convert_cli_reads_a_hf_folder(tmp_path, capsys):
    hf, folder = hf_folder(tmp_path)
    assert main(["models", "convert", str(folder), str(tmp_path / "ours"), "--model", "ast_base"]) == 0
    assert "OK" in capsys.readouterr().out
    model = from_pretrained(tmp_path / "ours").eval()
    assert model.meta["labels"] == ["dog", "cat", "rain"] and model.meta["frontend"]["mean"] == -5.5
    compare("HF -> aum models convert -> ours", model, hf)
