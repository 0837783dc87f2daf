"""`save_pretrained` / `from_pretrained`: `model.safetensors` + `config.json` ({model_name, model_config, meta}),
and a `README.md` model card (`aum.models.card`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from aum.errors import CheckpointError
from aum.fileinfo import respect_umask
from aum.models.ast import SIZES
from aum.models.base import AudioModel
from aum.models.card import write_model_card
from aum.models.huggingface import (
    check_not_foreign,
    files_found,
    hf_config_fields,
    hf_meta,
    hf_state_dict,
    is_hf_folder,
)
from aum.models.official import LoadReport, load_state_dict_checked
from aum.models.registry import build_model, get_config
from aum.tensor_files import load_weights, read_json_file

log = logging.getLogger(__name__)

WEIGHTS, CONFIG = "model.safetensors", "config.json"


def save_pretrained(model: AudioModel, directory: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write weights and config to `directory` (created). `meta` defaults to `model.meta`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(directory / WEIGHTS))
    respect_umask(directory / WEIGHTS)  # safetensors creates 0600; config.json gets the umask's mode
    saved_meta = dict(model.meta if meta is None else meta)
    info = {"model_name": model.model_name, "model_config": model.config.to_dict(), "meta": saved_meta}
    (directory / CONFIG).write_text(json.dumps(info, indent=2) + "\n")
    write_model_card(model, directory, saved_meta)
    log.info("saved %s to %s", model.model_name, directory)
    return directory


def from_pretrained(directory_or_file: str | Path) -> AudioModel:
    """Rebuild the model from `config.json` and load its weights strictly; `model.meta` is restored."""
    path = Path(directory_or_file)
    directory = path if path.is_dir() else path.parent
    weights = path if path.is_file() else directory / WEIGHTS
    if is_hf_folder(directory):  # HuggingFace ASTForAudioClassification: converted on the fly
        return load_hf_folder(directory)
    if not (directory / CONFIG).exists() and not weights.exists():
        raise FileNotFoundError(f"{path}: expected {CONFIG} and {WEIGHTS} (written by save_pretrained); "
                                f"{files_found(directory)}")
    check_not_foreign(directory)  # a config.json of another library: says which model it describes
    info = read_json_file(directory / CONFIG, required=("model_name", "model_config"))
    try:
        model = build_model(info["model_name"], get_config(info["model_name"], **info["model_config"]))
    except (ValueError, TypeError) as e:
        raise CheckpointError(directory / CONFIG, f"does not describe a model ({e})") from None
    load_weights(model, weights)
    model.meta = info.get("meta") or {}
    check_labels(model, directory / CONFIG)
    return model


def check_labels(model: AudioModel, source: str | Path) -> None:
    """A saved label list must name every output of the classifier: one line naming both counts if not."""
    labels, classes = model.meta.get("labels"), model.config.num_classes
    if labels and classes > 0 and len(labels) != classes:
        raise CheckpointError(source, f"{len(labels)} labels in meta['labels'] for a classifier of {classes} "
                              "classes: the label list does not belong to these weights")


def load_hf_folder(path: Path) -> AudioModel:
    """An `ASTForAudioClassification` folder as our AST (strict), with `meta` labels and frontend."""
    fields = hf_config_fields(path)
    size = next((s for s, (d, h) in SIZES.items() if (d, h) == (fields["embed_dim"], fields["num_heads"])), "base")
    model = build_model(f"ast_{size}", get_config(f"ast_{size}", **fields))
    sd, grid = hf_state_dict(path)
    load_state_dict_checked(model, sd, LoadReport(source=str(path)), strict=True, grid=grid)
    model.meta = hf_meta(path)
    return model
