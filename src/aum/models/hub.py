"""`save_pretrained` / `from_pretrained`: `model.safetensors` + `config.json` ({model_name, model_config, meta}),
and a `README.md` model card (`aum.models.card`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from torch import nn

from aum.models.card import write_model_card

log = logging.getLogger(__name__)

WEIGHTS, CONFIG = "model.safetensors", "config.json"


def save_pretrained(model: nn.Module, directory: str | Path, meta: dict | None = None) -> Path:
    """Write weights and config to `directory` (created). `meta` defaults to `model.meta`."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(directory / WEIGHTS))
    info = {"model_name": model.model_name, "model_config": model.config.to_dict(),
            "meta": dict(model.meta if meta is None else meta)}
    (directory / CONFIG).write_text(json.dumps(info, indent=2) + "\n")
    write_model_card(model, directory, info["meta"])
    log.info("saved %s to %s", model.model_name, directory)
    return directory


def from_pretrained(directory_or_file: str | Path) -> nn.Module:
    """Rebuild the model from `config.json` and load its weights strictly; `model.meta` is restored."""
    from safetensors.torch import load_file

    from aum.models.registry import build_model, get_config

    path = Path(directory_or_file)
    directory = path if path.is_dir() else path.parent
    weights = path if path.is_file() else directory / WEIGHTS
    if not (directory / CONFIG).is_file() or not weights.is_file():
        raise FileNotFoundError(f"{path}: expected {CONFIG} and {WEIGHTS} (written by save_pretrained)")
    info = json.loads((directory / CONFIG).read_text())
    model = build_model(info["model_name"], get_config(info["model_name"], **info["model_config"]))
    model.load_state_dict(load_file(str(weights)), strict=True)
    model.meta = info.get("meta") or {}
    return model
