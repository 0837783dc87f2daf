"""`create_model`: a registered model built, and optionally loaded from a checkpoint of any supported layout."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aum.models.base import AudioModel
from aum.models.layers import PatchShape
from aum.models.official import checkpoint_fields, load_checkpoint
from aum.models.registry import build_model, get_config

log = logging.getLogger(__name__)


def _meta_for(path: Path, model: AudioModel) -> dict[str, Any]:
    """What `model.meta` should hold after loading `path`: our folder's saved meta, else (an official checkpoint)
    the AudioSet frontend at the model's input length, which every official AudioSet-trained model uses."""
    config_json = (path if path.is_dir() else path.parent) / "config.json"
    if config_json.is_file():
        from aum.tensor_files import read_json_file

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
        found = checkpoint_fields(name, pretrained, overrides, checkpoint_stride)
        if found:
            log.info("%s: taken from %s: %s", name, pretrained, found)
        overrides = {**found, **overrides}
    model = build_model(name, get_config(name, **overrides))
    if pretrained is not None:
        report = load_checkpoint(model, pretrained, strict=True, checkpoint_stride=checkpoint_stride)
        log.info("%s: loaded %s\n%s", name, pretrained, report)
        if isinstance(pretrained, (str, Path)):
            model.meta = {**_meta_for(Path(pretrained), model), **model.meta}
    return model
