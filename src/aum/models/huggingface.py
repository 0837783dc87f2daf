"""HuggingFace `ASTForAudioClassification` folders <-> our AST, both directions, without importing `transformers`.

A HuggingFace folder holds `config.json` (`model_type` "audio-spectrogram-transformer"), `model.safetensors` (or
`pytorch_model.bin`) with `audio_spectrogram_transformer.*` / `classifier.*` keys, separate query / key / value
projections, and usually `preprocessor_config.json` (`ASTFeatureExtractor`: sampling rate, mel bins, max_length,
mean / std). The architecture is ours exactly (DeiT layout, CLS + distillation token averaged, LayerNorm + Linear
head); HuggingFace uses one LayerNorm eps (`layer_norm_eps`, 1e-12 by default) everywhere, the head's included.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from aum.audio.frontend import Frontend
from aum.errors import CheckpointError, ConfigError
from aum.models.ast import ASTConfig
from aum.models.base import AudioModel
from aum.models.layers import grid_shape, pair
from aum.tensor_files import read_json_file, read_safetensors, read_torch_file

log = logging.getLogger(__name__)

MODEL_TYPE, ARCHITECTURE = "audio-spectrogram-transformer", "ASTForAudioClassification"
CONFIG, WEIGHTS, FEATURES = "config.json", "model.safetensors", "preprocessor_config.json"
BACKBONE = "audio_spectrogram_transformer."
# our name -> HuggingFace name (the block keys are rewritten by BLOCK_NAMES)
FIXED_NAMES = {
    "cls_token": BACKBONE + "embeddings.cls_token",
    "dist_token": BACKBONE + "embeddings.distillation_token",
    "pos_embed.pos_embed": BACKBONE + "embeddings.position_embeddings",
    "patch_embed.proj.weight": BACKBONE + "embeddings.patch_embeddings.projection.weight",
    "patch_embed.proj.bias": BACKBONE + "embeddings.patch_embeddings.projection.bias",
    "norm.weight": BACKBONE + "layernorm.weight", "norm.bias": BACKBONE + "layernorm.bias",
    "mlp_head.0.weight": "classifier.layernorm.weight", "mlp_head.0.bias": "classifier.layernorm.bias",
    "mlp_head.1.weight": "classifier.dense.weight", "mlp_head.1.bias": "classifier.dense.bias",
}
BLOCK_NAMES = {"norm1": "layernorm_before", "norm2": "layernorm_after", "attn.proj": "attention.output.dense",
               "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense"}
QKV = ("query", "key", "value")


def read_config(path: Path) -> dict[str, Any]:
    """The folder's config.json as a dict; {} when absent or unreadable (our loaders then name the problem)."""
    directory = path if path.is_dir() else path.parent
    try:
        info = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def is_hf_folder(path: Path) -> bool:
    info = read_config(Path(path))
    return "model_name" not in info and (info.get("model_type") == MODEL_TYPE
                                         or ARCHITECTURE in (info.get("architectures") or []))


def _labels(info: dict[str, Any]) -> list[str]:
    id2label = info.get("id2label") or {}
    return [id2label[k] for k in sorted(id2label, key=int)]


def hf_config_fields(path: Path) -> dict[str, Any]:
    """Our AST config fields for the HuggingFace config in `path` (errors name an unsupported setting)."""
    info = read_config(Path(path))
    for key, want in (("hidden_act", "gelu"), ("qkv_bias", True)):
        if info.get(key, want) != want:
            raise ConfigError(f"{path}/{CONFIG}: {key}={info[key]!r} is not supported (our AST has {want!r})")
    patch = info.get("patch_size", 16)
    if not isinstance(patch, int):  # HuggingFace builds a square (patch, patch) kernel from an int
        if len(set(patch)) != 1:
            raise ConfigError(f"{path}/{CONFIG}: patch_size={patch} is not square (HuggingFace AST needs an int)")
        patch = patch[0]
    dim, hidden = int(info.get("hidden_size", 768)), int(info.get("intermediate_size", 3072))
    eps = float(info.get("layer_norm_eps", 1e-12))
    labels = _labels(info)
    return {"embed_dim": dim, "depth": int(info.get("num_hidden_layers", 12)),
            "num_heads": int(info.get("num_attention_heads", 12)), "mlp_ratio": hidden / dim,
            "norm_eps": eps, "head_norm_eps": eps, "patch_size": int(patch),
            "patch_stride": (int(info.get("frequency_stride", 10)), int(info.get("time_stride", 10))),
            "input_frames": int(info.get("max_length", 1024)), "mel_bins": int(info.get("num_mel_bins", 128)),
            "num_classes": len(labels) or int(info.get("num_labels", 527)),
            "cls_position": "head", "dist_token": True, "pool": "cls"}


def hf_meta(path: Path) -> dict[str, Any]:
    """`labels` from `id2label` and the `frontend` from `preprocessor_config.json` (when present)."""
    directory = Path(path) if Path(path).is_dir() else Path(path).parent
    meta: dict[str, Any] = {"labels": _labels(read_config(directory)), "converted_from": str(directory)}
    file = directory / FEATURES
    if file.is_file():
        feats = read_json_file(file)
        if not feats.get("do_normalize", True):
            raise ConfigError(f"{file}: do_normalize=false is not supported (our frontend always normalises)")
        meta["frontend"] = {"sample_rate": int(feats.get("sampling_rate", 16000)),
                            "num_mel_bins": int(feats.get("num_mel_bins", 128)),
                            "target_frames": int(feats.get("max_length", 1024)),
                            "mean": float(feats.get("mean", -4.2677393)), "std": float(feats.get("std", 4.5689974))}
    return meta


def _read_weights(directory: Path) -> dict[str, torch.Tensor]:
    if (directory / WEIGHTS).is_file():
        return read_safetensors(directory / WEIGHTS)
    if (directory / "pytorch_model.bin").is_file():
        return read_torch_file(directory / "pytorch_model.bin")  # weights_only=True
    raise FileNotFoundError(f"{directory}: HuggingFace folder without {WEIGHTS} or pytorch_model.bin")


def hf_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], tuple[int, int]]:
    """The folder's weights under our names (q / k / v stacked into `qkv`) and its patch grid."""
    directory = Path(path) if Path(path).is_dir() else Path(path).parent
    hf = _read_weights(directory)
    back = {v: k for k, v in FIXED_NAMES.items()}
    sd, layer = {}, re.compile(re.escape(BACKBONE) + r"encoder\.layer\.(\d+)\.(.+)$")
    for key, value in hf.items():
        if key in back:
            sd[back[key]] = value
            continue
        m = layer.match(key)
        if m is None:
            sd[key] = value  # unexpected: the strict load reports it
            continue
        i, rest = m.groups()
        if rest.startswith("attention.attention."):
            continue  # stacked below
        name = next((ours for ours, theirs in BLOCK_NAMES.items() if rest.startswith(theirs + ".")), None)
        sd[f"blocks.{i}.{name}.{rest.rsplit('.', 1)[1]}" if name else key] = value
    for key, m in ((k, layer.match(k)) for k in hf if ".attention.attention.query." in k):
        if m is None:
            continue  # outside the encoder layers: kept under its own name above, the strict load reports it
        i, kind = m.group(1), key.rsplit(".", 1)[1]
        parts = [hf[key.replace(".query.", f".{q}.")] for q in QKV]
        sd[f"blocks.{i}.attn.qkv.{kind}"] = torch.cat(parts, dim=0)  # (3D, D) / (3D,)
    fields = hf_config_fields(directory)
    return sd, grid_shape(fields["mel_bins"], fields["input_frames"], fields["patch_size"], fields["patch_stride"])


def _check_exportable(model: AudioModel) -> ASTConfig:
    """The AST / SSAST config of an exportable `model`; a one-line error listing every problem otherwise."""
    cfg = model.config
    problems = []
    if not isinstance(cfg, ASTConfig):  # AST and SSAST
        problems.append(f"family {cfg.family!r} (only AST / SSAST have a HuggingFace class)")
    if cfg.num_prefix_tokens != 2 or cfg.resolved_pool != "cls":
        problems.append("HuggingFace AST needs the CLS + distillation tokens and pool='cls'")
    if not isinstance(cfg.patch_size, int):
        problems.append(f"patch_size {cfg.patch_size} (HuggingFace AST has square patches)")
    if cfg.num_classes <= 0:
        problems.append("no classifier (num_classes=0)")
    if problems:
        raise ConfigError(f"{model.model_name} cannot be written as ASTForAudioClassification: " + "; ".join(problems))
    assert isinstance(cfg, ASTConfig)  # refused above otherwise
    return cfg


def export_hf(model: AudioModel, directory: str | Path) -> Path:
    """Write `model` (AST) as an `ASTForAudioClassification` folder: config.json, model.safetensors, features."""
    cfg, directory = _check_exportable(model), Path(directory)
    if cfg.head_norm_eps != cfg.norm_eps:
        log.warning("HuggingFace AST has one LayerNorm eps: the head's %g becomes %g", cfg.head_norm_eps, cfg.norm_eps)
    out = {}
    for key, value in model.state_dict().items():
        m = re.match(r"blocks\.(\d+)\.(.+)\.(weight|bias)$", key)
        if key in FIXED_NAMES:
            out[FIXED_NAMES[key]] = value
        elif m and m.group(2) == "attn.qkv":
            for name, part in zip(QKV, value.chunk(3, dim=0)):
                out[f"{BACKBONE}encoder.layer.{m.group(1)}.attention.attention.{name}.{m.group(3)}"] = part
        elif m and m.group(2) in BLOCK_NAMES:
            out[f"{BACKBONE}encoder.layer.{m.group(1)}.{BLOCK_NAMES[m.group(2)]}.{m.group(3)}"] = value
        else:
            log.info("export-hf: %s has no HuggingFace counterpart, left out", key)
    labels = list(model.meta.get("labels") or [f"LABEL_{i}" for i in range(cfg.num_classes)])
    if len(labels) != cfg.num_classes:
        raise ConfigError(f"model.meta has {len(labels)} labels for {cfg.num_classes} classes")
    f_stride, t_stride = pair(cfg.patch_stride)
    info = {"architectures": [ARCHITECTURE], "model_type": MODEL_TYPE, "hidden_size": cfg.embed_dim,
            "num_hidden_layers": cfg.depth, "num_attention_heads": cfg.num_heads,
            "intermediate_size": int(cfg.embed_dim * cfg.mlp_ratio), "hidden_act": "gelu",
            "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02,
            "layer_norm_eps": cfg.norm_eps, "patch_size": cfg.patch_size, "qkv_bias": True,
            "frequency_stride": f_stride, "time_stride": t_stride, "max_length": cfg.input_frames,
            "num_mel_bins": cfg.mel_bins, "id2label": {str(i): name for i, name in enumerate(labels)},
            "label2id": {name: i for i, name in enumerate(labels)}}
    front = Frontend.from_dict(model.meta["frontend"]) if model.meta.get("frontend") else Frontend(
        target_frames=cfg.input_frames, num_mel_bins=cfg.mel_bins)
    feats = {"feature_extractor_type": "ASTFeatureExtractor", "feature_size": 1, "padding_value": 0.0,
             "return_attention_mask": False, "do_normalize": True, "sampling_rate": front.sample_rate,
             "num_mel_bins": front.num_mel_bins, "max_length": front.target_frames, "mean": front.mean,
             "std": front.std}
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in out.items()}, str(directory / WEIGHTS))
    (directory / CONFIG).write_text(json.dumps(info, indent=2) + "\n")
    (directory / FEATURES).write_text(json.dumps(feats, indent=2) + "\n")
    return directory


def check_not_foreign(directory: Path) -> None:
    """Raise a one-line CheckpointError when config.json is another library's (it has a model_type, no model_name)."""
    info = read_config(directory)
    if "model_name" in info or not ("model_type" in info or "architectures" in info):
        return
    kind = info.get("model_type") or "no model_type"
    arch = ", ".join(info.get("architectures") or []) or "no architectures"
    raise CheckpointError(directory / CONFIG, f"not an aum folder (no model_name): it describes {kind!r} ({arch}); "
                          f"readable are our save_pretrained folders and HuggingFace {ARCHITECTURE} folders")


def files_found(directory: Path) -> str:
    files = sorted(p.name for p in directory.iterdir())[:8] if directory.is_dir() else []
    return (f"found {', '.join(files) or 'nothing'} (an official .pth checkpoint loads with "
            f"create_model(name, pretrained=FILE) or 'aum models convert')")
