"""Typed configuration sections: the one strict parser every YAML section goes through, and `setting`, which gives
each key its documentation, its allowed values and its range.

    @dataclass(kw_only=True)
    class OptimConfig(Section):
        section: ClassVar[str] = "optim"
        name: str = setting("adam", "optimizer", choices=("adam", "adamw"))
        lr: float = setting(1e-5, "peak learning rate", low=0.0, open_low=True)

    cfg = parse_section(OptimConfig, {"name": "adamw", "lr": "1e-4"})

A wrong key, type, value or range is one `ConfigError` line naming `section.key`, e.g.
`optim.lr=-1.0: must be > 0` or `optim: unknown key(s) ['lr_max'] (did you mean 'lr'?); known keys: [...]`.
Checks run when a section is built (`Section.__post_init__`), so a config made in Python is checked the same way.
`docs/CONFIG.md` is generated from the same fields (`field_rows`).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Sequence
from typing import Any, ClassVar

import yaml

from aum.errors import ConfigError, did_you_mean

_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def setting(default: Any = dataclasses.MISSING, doc: str = "", *, choices: Sequence[Any] | None = None,
            low: float | None = None, high: float | None = None, open_low: bool = False, open_high: bool = False,
            factory: Any = dataclasses.MISSING) -> Any:
    """A config field: its default (none: required), one line of documentation, and optionally the values it may
    take (`choices`) or its range (`low` / `high`, inclusive unless `open_low` / `open_high`; every number of a
    tuple is checked)."""
    meta = {"doc": doc, "choices": tuple(choices) if choices is not None else None,
            "range": (low, high, open_low, open_high) if low is not None or high is not None else None}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class Section:
    """Base of the config dataclasses: `section` names the YAML section in messages; fields made with `setting`
    are checked when an instance is built."""

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_fields(self)

    def to_dict(self) -> dict[str, Any]:
        return plain(dataclasses.asdict(self))  # type: ignore[call-overload]


def plain(value: Any) -> Any:
    """YAML-ready: tuples as lists, recursively."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def _range_text(rng: tuple[float | None, float | None, bool, bool]) -> str:
    low, high, open_low, open_high = rng
    if low is not None and high is not None:
        return f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    if low is not None:
        return f"{'>' if open_low else '>='} {low:g}"
    return f"{'<' if open_high else '<='} {high:g}"


def _in_range(value: float, rng: tuple[float | None, float | None, bool, bool]) -> bool:
    low, high, open_low, open_high = rng
    if low is not None and (value < low or (open_low and value == low)):
        return False
    return not (high is not None and (value > high or (open_high and value == high)))


def field_meta(cls: type, name: str) -> dict[str, Any]:
    """The `setting` metadata of field `name`, inherited: a subclass that only changes a field's default keeps the
    documentation, choices and range its base class gave it."""
    meta: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        f = getattr(klass, "__dataclass_fields__", {}).get(name)
        if f is not None:
            meta.update({k: v for k, v in f.metadata.items() if v})
    return meta


def check_fields(obj: Any, where: str | None = None) -> None:
    """Raise a one-line ConfigError for the first field of `obj` outside its choices or range."""
    where = where or getattr(obj, "section", "") or type(obj).__name__
    for f in dataclasses.fields(obj):
        meta = field_meta(type(obj), f.name)
        value, choices, rng = getattr(obj, f.name), meta.get("choices"), meta.get("range")
        if value is None:
            continue
        if choices is not None and value not in choices:
            raise ConfigError(f"{where}.{f.name}={value!r}: choose one of {', '.join(map(str, choices))}"
                              f"{did_you_mean(str(value), choices)}")
        numbers = value if isinstance(value, (tuple, list)) else (value,)
        if rng is not None and any(isinstance(v, (int, float)) and not _in_range(v, rng) for v in numbers):
            raise ConfigError(f"{where}.{f.name}={value!r}: must be {_range_text(rng)}")


def parse_scalar(text: Any) -> Any:
    """YAML scalar, with `1e-4` read as a float (YAML 1.1 reads it as a string)."""
    value = yaml.safe_load(text) if isinstance(text, str) else text
    if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
        return float(value)
    return value


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert `value` to the dataclass field type `annotation` (ints, floats, bools, strings, tuples, lists,
    optionals, int-or-pair unions)."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if value is None:
        if type(None) in args or annotation is Any:
            return None
        raise ConfigError(f"{where}: null is not allowed here")
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):  # X | None, int | tuple[int, int]: the first that fits
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return coerce(value, options[0], where)
        for option in options:
            try:
                return coerce(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {' or '.join(_type_name(a) for a in options)}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(coerce(v, a, where) for v, a in zip(value, args))
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [coerce(v, args[0], where) for v in value] if args else list(value)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if isinstance(value, str) and annotation in (int, float) and _FLOAT_RE.match(value.strip()):
        value = float(value)  # "1e-4": YAML 1.1 reads it as a string
    try:
        if annotation is bool:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if annotation is int:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if annotation is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
            return float(value)
        if annotation is str:
            if isinstance(value, (dict, list)):
                raise TypeError
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {_type_name(annotation)}, got {value!r}") from None
    return value


def _type_name(annotation: Any) -> str:
    if typing.get_args(annotation):  # tuple[float, float], int | None, ...
        return str(annotation).replace("typing.", "").replace("NoneType", "None")
    return getattr(annotation, "__name__", None) or str(annotation)


T = typing.TypeVar("T")


def parse_section(cls: type[T], values: Any, where: str | None = None, consumed: tuple[str, ...] = ()) -> T:
    """An instance of the dataclass `cls` from a YAML mapping: every value converted to its field's type, unknown
    and missing keys named, then the fields' own checks (choices, ranges). `consumed`: keys of the section that the
    caller already took (e.g. `format`), named among the valid ones."""
    where = where or getattr(cls, "section", "") or cls.__name__
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        known = sorted({*fields, *consumed})
        raise ConfigError(f"{where}: unknown key(s) {unknown}{did_you_mean(unknown[0], known)}; known keys: {known}")
    missing = [name for name, f in fields.items() if required(f) and name not in values]
    if missing:
        raise ConfigError(f"{where}.{missing[0]} is required ({field_meta(cls, missing[0]).get('doc', '')})")
    return cls(**{k: coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()})


def required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def yaml_text(value: Any) -> str:
    """A value as it is written in a recipe: null, true, 1e-05, [0.9, 0.999], a string without quotes."""
    return yaml.safe_dump(plain(value), default_flow_style=True, width=1000).strip().removesuffix("\n...").strip()


def field_rows(cls: type) -> list[dict[str, str]]:
    """One row per field of a config dataclass, for the reference document: key, type, default, allowed, doc."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if required(f):
            default = "required"
        else:
            default = yaml_text(f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
        meta = field_meta(cls, f.name)
        choices, rng = meta.get("choices"), meta.get("range")
        allowed = ", ".join(map(str, choices)) if choices else (_range_text(rng) if rng else "")
        rows.append({"key": f.name, "type": _type_name(hints[f.name]), "default": default, "allowed": allowed,
                     "doc": meta.get("doc", "")})
    return rows
