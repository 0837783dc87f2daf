"""`create_model`: a registered model built, and optionally loaded from a checkpoint of any supported layout; and
`ModelSection`, the typed `model:` section of a recipe that builds it."""

from __future__ import annotations

import dataclasses
import logging
import typing
from pathlib import Path
from typing import Any

from aum.audio import Frontend
from aum.errors import ConfigError, did_you_mean
from aum.models.base import AudioModel, AudioModelConfig
from aum.models.layers import PatchShape
from aum.models.model_folder import check_labels
from aum.models.official import checkpoint_fields, load_checkpoint
from aum.models.registry import build_model, get_config
from aum.schema import coerce, plain
from aum.tensor_files import read_json_file

log = logging.getLogger(__name__)

MODEL_KEYS = ("name", "pretrained", "checkpoint_stride")  # the `model:` keys besides the config's fields


def _meta_for(path: Path, model: AudioModel) -> dict[str, Any]:
    """What `model.meta` should hold after loading `path`: our folder's saved meta, else (an official checkpoint)
    the AudioSet frontend at the model's input length, which every official AudioSet-trained model uses."""
    config_json = (path if path.is_dir() else path.parent) / "config.json"
    if config_json.is_file():
        return dict(read_json_file(config_json).get("meta") or {})
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
        log.debug("%s: loaded %s\n%s", name, pretrained, report)  # the first line is logged by load_checkpoint
        if isinstance(pretrained, (str, Path)):
            model.meta = {**_meta_for(Path(pretrained), model), **model.meta}
            if any(key.startswith(("head.", "mlp_head.")) for key in report.reinitialised):
                model.meta.pop("labels", None)  # a new classifier: the checkpoint's labels named the old one
            check_labels(model, pretrained)
    return model


@dataclasses.dataclass
class ModelSection:
    """`model:` a registered model (`name`), the fields of its config the recipe sets (`config`, typed and checked),
    and where its initial weights come from (`pretrained`, `checkpoint_stride`)."""

    name: str
    config: AudioModelConfig
    given: tuple[str, ...] = ()  # the config fields the recipe sets; the others keep the registered defaults
    pretrained: str | None = None
    checkpoint_stride: PatchShape | None = None

    @property
    def options(self) -> dict[str, Any]:
        return {key: getattr(self.config, key) for key in self.given}

    def build(self, **dictated: Any) -> AudioModel:
        """The model, with the fields the data and the task dictate (`input_frames`, `num_classes`, ...): one that
        the recipe sets to another value is a ConfigError."""
        for key, value in dictated.items():
            if key in self.given and getattr(self.config, key) != value:
                raise ConfigError(f"model.{key}={getattr(self.config, key)} contradicts the data / frontend / task "
                                  f"({value}); remove it")
        return create_model(self.name, pretrained=self.pretrained, checkpoint_stride=self.checkpoint_stride,
                            **{**self.options, **dictated})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, **plain(self.options)}
        if self.pretrained is not None:
            out["pretrained"] = self.pretrained
        if self.checkpoint_stride is not None:
            out["checkpoint_stride"] = plain(self.checkpoint_stride)
        return out


def parse_model_section(values: Any) -> ModelSection:
    """The typed `model:` section: an unknown name or key, or a value of the wrong type or range, is one
    ConfigError line (the closest valid name or key included)."""
    if not isinstance(values, dict):
        raise ConfigError(f"model: expected a mapping with a name, got {values!r}")
    values = dict(values)
    name = values.pop("name", None)
    if not name:
        raise ConfigError("model.name is required, e.g. model.name=aum_tiny (see `aum models list`)")
    pretrained = coerce(values.pop("pretrained", None), str | None, "model.pretrained")
    stride = coerce(values.pop("checkpoint_stride", None), int | tuple[int, int] | None, "model.checkpoint_stride")
    try:
        registered = get_config(str(name))
    except ConfigError as e:  # an unknown name: the closest registered one is named
        raise ConfigError(f"model.name: {e}") from None
    hints = typing.get_type_hints(type(registered))
    fields = {f.name for f in dataclasses.fields(registered)}
    unknown = sorted(set(values) - fields)
    if unknown:
        keys = fields | set(MODEL_KEYS)
        raise ConfigError(f"model: unknown key(s) {unknown}{did_you_mean(unknown[0], keys)}; {name} takes "
                          f"{sorted(keys)}")
    options = {key: coerce(value, hints[key], f"model.{key}") for key, value in values.items()}
    return ModelSection(str(name), get_config(str(name), **options), tuple(options), pretrained, stride)
