"""The strict parser every config section goes through: YAML scalars, typed dataclass fields, unknown keys named
with the closest valid one. Below `config` and the task modules, so that each can use it."""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any

import yaml

from aum.errors import ConfigError

_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def parse_scalar(text: Any) -> Any:
    """YAML scalar, with `1e-4` read as a float (YAML 1.1 reads it as a string)."""
    value = yaml.safe_load(text) if isinstance(text, str) else text
    if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
        return float(value)
    return value


def _normalise_free(value: Any) -> Any:
    """Float-looking strings inside free-form sections become floats, recursively."""
    if isinstance(value, dict):
        return {k: _normalise_free(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_free(v) for v in value]
    if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
        return float(value)  # a quoted string such as "off" stays a string
    return value


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert `value` to the dataclass field type `annotation` (ints, floats, bools, tuples, optionals)."""
    args = typing.get_args(annotation)
    if value is None:
        if type(None) in args:
            return None
        raise ConfigError(f"{where}: null is not allowed here")
    origin = typing.get_origin(annotation)
    if args and type(None) in args and origin is not tuple:  # Optional[X] / X | None
        (inner,) = [a for a in args if a is not type(None)]
        return coerce(value, inner, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(coerce(v, a, where) for v, a in zip(value, args))
    value = parse_scalar(value)
    try:
        if annotation is bool:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if annotation is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if annotation is float:
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if annotation is str:
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}") from None
    return value


def section_from_dict(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        from aum.errors import did_you_mean

        raise ConfigError(f"{where}: unknown key(s) {unknown}{did_you_mean(unknown[0], known)}; "
                          f"known keys: {sorted(known)}")
    return cls(**{k: coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()})
