"""A `pipeline` command generated from its options class (pipeline/options/): its flags,
defaults, help texts, limits and choices come from the class, so none is written twice.

Typer reads a command's parameters from its signature: the generated function gets one
whose annotations and typer.Option / typer.Argument defaults are built from the fields.
"""
from __future__ import annotations

import inspect
import typing
from dataclasses import MISSING, fields
from enum import Enum
from typing import List, Optional

import typer

from pipeline.cli.common import friendly
from pipeline.options import unwrap_optional


def stage_command(app: typer.Typer, options_cls, call, registries: dict, name: str):
    """Add `name` to app: it builds options_cls from the flags and calls call(options)."""
    hints = typing.get_type_hints(options_cls)
    params, annotations = [], {}
    # Required flags first, then the others in their class's order.
    for f in sorted(fields(options_cls), key=lambda f: f.default is not MISSING):
        annotation, default = _parameter(f, hints[f.name], registries)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                        default=default, annotation=annotation))
        annotations[f.name] = annotation

    def command(**values):
        return call(options_cls.build(**values))

    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = annotations
    command.__doc__ = options_cls.__doc__
    command.__name__ = name
    app.command(name)(friendly(command))


def _parameter(f, hint, registries: dict):
    """(the command-line type, the typer.Option/Argument) of one field."""
    meta = f.metadata
    base = unwrap_optional(hint)
    optional = type(None) in typing.get_args(hint)
    choices = meta.get("choices")
    if isinstance(choices, str):  # a registry, by name: an Enum of its keys
        choices = Enum(choices.title(), [(k, k) for k in registries[choices]], type=str)
    required = f.default is MISSING
    if meta.get("argument"):  # positional; a list of them: typer wants typing.List
        many = typing.get_origin(base) is list
        return (List[typing.get_args(base)[0]] if many else base), typer.Argument(
            ... if required else f.default, help=meta["help"])
    if meta.get("csv"):
        annotation = Optional[str]  # "a,b" on the command line, checked by the class
        default = None if f.default is None else ",".join(map(str, f.default))
        if choices is not None:
            meta = {**meta, "help": meta["help"].rstrip(".") + ", of " +
                    ", ".join(c.value for c in choices) + "."}
    elif choices is not None:
        annotation = Optional[choices] if optional else choices
        default = f.default if f.default is None else choices(f.default)
    else:
        annotation = Optional[base] if optional else base
        default = f.default
    names = [meta["flag"]] if meta.get("flag") else []
    if base is bool and not names:
        names = ["--" + f.name.replace("_", "-")]  # a flag, not --x/--no-x
    # Limits are checked by the options class (one line, as from the API), shown in the help.
    return annotation, typer.Option(... if required else default, *names,
                                    help=meta["help"] + _limits_text(meta))


def _limits_text(meta: dict) -> str:
    limits = [f"{word} {meta[key]}" for key, word in
              (("above", "above"), ("min", "at least"), ("max", "at most")) if key in meta]
    return f" [{', '.join(limits)}]" if limits else ""
