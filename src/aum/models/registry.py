"""timm-style model registry: a registered name is a config dataclass (plus the class that builds it)."""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
from pathlib import Path
from typing import Any

from aum.errors import did_you_mean
from aum.models.base import AudioModel, AudioModelConfig
from aum.models.layers import PatchShape

log = logging.getLogger(__name__)

_REGISTRY: dict[str, tuple[AudioModelConfig, type[AudioModel]]] = {}


def register_model(name: str, config: AudioModelConfig, model_cls: type[AudioModel]) -> None:
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    _REGISTRY[name] = (config, model_cls)


def list_models(pattern: str = "*") -> list[str]:
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def _entry(name: str) -> tuple[AudioModelConfig, type[AudioModel]]:
    """The registered (config, class) of a model name, or of a family name (`config.family`, e.g. "aum")."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    for config, cls in _REGISTRY.values():
        if getattr(config, "family", None) == name:
            return config, cls
    raise ValueError(f"unknown model {name!r}{did_you_mean(name, _REGISTRY)}; registered: {', '.join(list_models())}")


def get_config(name: str, **overrides: Any) -> AudioModelConfig:
    """The registered config of `name` (a model or a family name) with `overrides` applied; an unknown field raises,
    naming the closest valid one."""
    config = _entry(name)[0]
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        hint = did_you_mean(unknown[0], fields)
        raise ValueError(f"{name}: unknown config field(s) {unknown}{hint}; valid: {sorted(fields)}")
    return dataclasses.replace(config, **overrides)


def build_model(name: str, config: AudioModelConfig) -> AudioModel:
    model = _entry(name)[1](config)
    if name in _REGISTRY:
        model.model_name = name
    return model


def _meta_for(path: Path, model: AudioModel) -> dict[str, Any]:
    """What `model.meta` should hold after loading `path`: our folder's saved meta, else (an official checkpoint)
    the AudioSet frontend at the model's input length, which every official AudioSet-trained model uses."""
    config_json = (path if path.is_dir() else path.parent) / "config.json"
    if config_json.is_file():
        from aum.checkpoint_io import read_json_file

        return dict(read_json_file(config_json).get("meta") or {})
    from aum.audio import Frontend

    log.info("%s carries no frontend settings: model.meta['frontend'] set to the AudioSet statistics at %d frames",
             path, model.config.input_frames)
    return {"frontend": Frontend.preset("audioset", target_frames=model.config.input_frames).to_dict()}


def create_model(name: str, pretrained: str | Path | None = None, checkpoint_stride: PatchShape | None = None,
                 **overrides: Any) -> AudioModel:
    """Build a registered model, e.g. `create_model("aum_base", num_classes=527, input_frames=1024)`.

    `pretrained`: a `save_pretrained` directory / `.safetensors` file, a HuggingFace AST folder, or an official
    `.pth` checkpoint; loaded strictly, positions adapted to this model's grid by the family's official rule, head
    re-initialised when the class count differs. Fields the checkpoint determines (patch shape, special tokens, a
    unique stride) are taken from it unless given here. `checkpoint_stride`: the stride the checkpoint was trained
    with, when its position count is ambiguous (the error says so).
    """
    if pretrained is not None:
        from aum.models.checkpoints import checkpoint_fields

        found = checkpoint_fields(name, pretrained, overrides, checkpoint_stride)
        if found:
            log.info("%s: taken from %s: %s", name, pretrained, found)
        overrides = {**found, **overrides}
    model = build_model(name, get_config(name, **overrides))
    if pretrained is not None:
        from aum.models.checkpoints import load_checkpoint

        report = load_checkpoint(model, pretrained, strict=True, checkpoint_stride=checkpoint_stride)
        log.info("%s: loaded %s\n%s", name, pretrained, report)
        if isinstance(pretrained, (str, Path)):
            model.meta = {**_meta_for(Path(pretrained), model), **model.meta}
    return model
