"""timm-style model registry: a registered name is a config dataclass (plus the class that builds it)."""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
from typing import Any

from aum.errors import ConfigError, did_you_mean
from aum.models.base import AudioModel, AudioModelConfig

log = logging.getLogger(__name__)

_REGISTRY: dict[str, tuple[AudioModelConfig, type[AudioModel]]] = {}


def register_model(name: str, config: AudioModelConfig, model_cls: type[AudioModel]) -> None:
    if name in _REGISTRY:
        raise ConfigError(f"model {name!r} is already registered")
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
    raise ConfigError(f"unknown model {name!r}{did_you_mean(name, _REGISTRY)}; registered: {', '.join(list_models())}")


def get_config(name: str, **overrides: Any) -> AudioModelConfig:
    """The registered config of `name` (a model or a family name) with `overrides` applied; an unknown field raises,
    naming the closest valid one."""
    config = _entry(name)[0]
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        hint = did_you_mean(unknown[0], fields)
        raise ConfigError(f"{name}: unknown config field(s) {unknown}{hint}; valid: {sorted(fields)}")
    return dataclasses.replace(config, **overrides)


def build_model(name: str, config: AudioModelConfig) -> AudioModel:
    model = _entry(name)[1](config)
    if name in _REGISTRY:
        model.model_name = name
    return model
