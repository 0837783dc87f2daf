"""timm-style model registry: a registered name is a config dataclass (plus the class that builds it)."""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
from pathlib import Path

from torch import nn

log = logging.getLogger(__name__)

_REGISTRY: dict[str, tuple[object, type]] = {}


def register_model(name: str, config, model_cls: type) -> None:
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    _REGISTRY[name] = (config, model_cls)


def list_models(pattern: str = "*") -> list[str]:
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def get_config(name: str, **overrides):
    """The registered config of `name` with `overrides` applied (unknown fields raise, listing the valid ones)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(list_models())}")
    config = _REGISTRY[name][0]
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"{name}: unknown config field(s) {unknown}; valid: {sorted(fields)}")
    return dataclasses.replace(config, **overrides)


def build_model(name: str, config) -> nn.Module:
    model = _REGISTRY[name][1](config)
    model.model_name = name
    return model


def create_model(name: str, pretrained: str | Path | None = None, checkpoint_stride=None, **overrides) -> nn.Module:
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
    return model
