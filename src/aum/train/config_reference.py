"""`docs/CONFIG.md`: every section and key of a recipe, generated from the typed configs themselves, so the
reference cannot drift from the code (a test compares the file with `render()`).

    python -m aum.train.config_reference > docs/CONFIG.md      (or: make docs)
"""

from __future__ import annotations

import dataclasses
import inspect
import sys

from aum.audio import FrontendConfig
from aum.data import DATA_FORMATS, AugmentConfig, DataConfig
from aum.models import AudioModelConfig, get_config, list_models
from aum.models.factory import ModelSection
from aum.schema import field_rows
from aum.train.config import SECTIONS, TrainConfig
from aum.train.schedule import OptimConfig, ScheduleConfig
from aum.train.task_registry import TASKS

HEADER = """# Configuration reference

A recipe is one YAML file of sections; `aum train` / `aum pretrain` take it with `section.key=value` overrides
(`aum train configs/esc50.yaml optim.lr=1e-4 train.epochs=3`). Every key below is checked when the recipe is
loaded: an unknown key, a value outside its choices or range, or a wrong type stops the command with one line
naming `section.key`, before any data is read. Relative data paths in a YAML file are relative to its folder.
The resolved recipe is saved beside every checkpoint (`train_config.yaml`).

This page is generated from the config classes (`make docs`); do not edit it by hand.

Sections: {sections}.
"""

ROW = "| `{key}` | {type} | `{default}` | {allowed} | {doc} |"


def table(rows: list[dict[str, str]]) -> list[str]:
    lines = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(ROW.format(**{k: str(v).replace("|", "\\|") for k, v in row.items()}))
    return lines


def summary(cls: type) -> str:
    return " ".join(inspect.cleandoc(cls.__doc__ or "").split())


def section(name: str, cls: type, intro: str | None = None) -> list[str]:
    return [f"## `{name}`", "", intro or summary(cls), "", *table(field_rows(cls)), ""]


def model_section() -> list[str]:
    families: dict[str, type] = {}
    for name in list_models():
        families.setdefault(type(get_config(name)).family, type(get_config(name)))
    lines = ["## `model`", "",
             f"{summary(ModelSection)} `name` is a registered model ({', '.join(list_models())}; "
             "`aum models list`); `pretrained` a checkpoint to start from: one of our run folders, a HuggingFace "
             "AST folder or an official `.pth`, adapted to the model's grid by the family's rule "
             "(docs/CHECKPOINTS.md); `checkpoint_stride` the stride that checkpoint was trained with when its "
             "positions alone leave it ambiguous. The other keys are the fields of the model's config, below; "
             "a size (`tiny`, `small`, `base`) sets `embed_dim` (192, 384, 768).", "",
             "### Keys of every model", "", *table(field_rows(AudioModelConfig)), ""]
    base = {row["key"]: row for row in field_rows(AudioModelConfig)}
    for family, cls in families.items():
        rows = [row for row in field_rows(cls) if base.get(row["key"]) != row]
        lines += [f"### Family `{family}` (`{family}_tiny`, `{family}_small`, `{family}_base`): its own keys and "
                  "defaults", "", *table(rows), ""]
    return lines


def data_section() -> list[str]:
    lines = ["## `data`", "",
             f"{summary(DataConfig)} `format` picks the layout; every format takes the keys of the first table, "
             "then its own.", "", *table(field_rows(DataConfig)), ""]
    common = {f.name for f in dataclasses.fields(DataConfig)}
    for name, cls in DATA_FORMATS.items():
        rows = [row for row in field_rows(cls) if row["key"] not in common]
        lines += [f"### `format: {name}`", "", summary(cls), "", *table(rows), ""]
    return lines


def task_section() -> list[str]:
    lines = ["## `task`", "", "The training objective: `name` picks a registered task (default `classification`; "
             f"`aum pretrain`: `pretrain`); registered: {', '.join(TASKS)}.", ""]
    for name, (cls, _builder) in TASKS.items():
        lines += [f"### `name: {name}`", "", summary(cls), "", *table(field_rows(cls)), ""]
    return lines


def render() -> str:
    parts = [HEADER.format(sections=", ".join(f"`{s}`" for s in SECTIONS))]
    for name in SECTIONS:
        if name == "model":
            lines = model_section()
        elif name == "data":
            lines = data_section()
        elif name == "task":
            lines = task_section()
        else:
            cls = {"augment": AugmentConfig, "frontend": FrontendConfig, "optim": OptimConfig,
                   "schedule": ScheduleConfig, "train": TrainConfig}[name]
            lines = section(name, cls)
        parts.append("\n".join(lines))
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
