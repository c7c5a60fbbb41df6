"""How a command's options are declared and checked: `option(...)` fields on a dataclass
subclassing StageOptions. A field's metadata says how it appears on the command line: `help`,
`min`/`max`/`above`, `choices` (an Enum, or the name of a registry that cli/build.py
resolves), `flag` (another spelling), `argument` (positional), `csv` (a comma-separated list
on the command line; a list or that text in Python). No TensorFlow here.
"""
from __future__ import annotations

import types
import typing
from dataclasses import MISSING, asdict, field, fields
from enum import Enum
from pathlib import Path

from pipeline.core.errors import PipelineError

DECODERS = "Decoding threads (default: all cores, at most 8)."


def option(default=MISSING, help: str = "", **cli):
    """A stage option: its default (none: required), help text and command-line metadata."""
    return field(default=default, metadata={"help": help, **cli})


class StageOptions:
    """Checks every field against its metadata after construction: one line naming the flag.
    Each stage's class names its command (`stage`) and the module whose run(options) does
    the work (`module`, imported by api.run_command when the command runs)."""
    stage = module = ""

    @staticmethod
    def failed(result) -> bool:
        """Whether the command's result means a non-zero exit (each problem was printed)."""
        return False

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            setattr(self, f.name, _check(f, hints[f.name], getattr(self, f.name)))

    @classmethod
    def build(cls, **values):
        """The options from keyword arguments (the API's), refusing names that are none."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PipelineError(f"unknown option {unknown[0]!r} of {cls.stage}; known: "
                                f"{', '.join(sorted(known))}")
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in values]
        if missing:
            raise PipelineError(f"{cls.stage}: {flag(missing[0])} is required")
        return cls(**values)

    def to_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def unwrap_optional(hint):
    """X of Optional[X]; any other type as it is."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        return next(a for a in args if a is not type(None))
    return hint


def _check(f, hint, value):
    """value converted to the field's type (a path from text, a list from 'a,b') and held to
    its limits and choices."""
    meta, name = f.metadata, flag(f.name)
    if value is None:
        if type(None) in typing.get_args(hint) or f.default is None:
            return None
        raise PipelineError(f"{name} needs a value")
    base = unwrap_optional(hint)
    if isinstance(value, Enum):
        value = value.value
    if meta.get("csv"):
        value = _csv(value, base, name)
    else:
        value = _scalar(value, base, name)
    for item in value if isinstance(value, (list, tuple)) else [value]:
        _limits(item, meta, name)
    return value


def _csv(value, base, name):
    items = [t.strip() for t in value.split(",") if t.strip()] if isinstance(value, str) \
        else list(value)
    kind = typing.get_args(base)[0] if typing.get_args(base) else str
    out = [_scalar(item, kind, name) for item in items]
    return tuple(out) if typing.get_origin(base) is tuple else out


def _scalar(value, kind, name):
    try:
        if kind is Path:
            return Path(value)
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind is int:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if kind is float:
            return float(value)
        return str(value) if kind is str else value
    except (TypeError, ValueError):
        what = {int: "a whole number", float: "a number", bool: "true or false"}.get(kind, kind)
        raise PipelineError(f"{name} {value!r}: expected {what}") from None


def _limits(value, meta, name):
    low, high, choices = meta.get("min"), meta.get("max"), meta.get("choices")
    if meta.get("above") is not None and value <= meta["above"]:
        raise PipelineError(f"{name} {value}: must be above {meta['above']}")
    if low is not None and value < low:
        raise PipelineError(f"{name} {value}: must be at least {low}")
    if high is not None and value > high:
        raise PipelineError(f"{name} {value}: must be at most {high}")
    if isinstance(choices, type) and issubclass(choices, Enum) and \
            value not in {c.value for c in choices}:
        raise PipelineError(f"{name} {value!r}: choose from "
                            f"{', '.join(c.value for c in choices)}")
