"""The task heads: names, label-file columns and class names, as data.

Every module loops over a `Heads` value instead of naming tasks itself, so the same
pipeline serves other multi-task problems (a car's kind and make, face attributes).

Two uses of one type, kept apart everywhere:
- a dataset's *schema*: the columns of its label files. Column i after the path holds the
  class index of head i (-1 = no label). A folder of label files declares it in heads.json
  (the shape of a run's labels.json); without one, the article's flower heads apply.
- a model's *heads*: a selection of the schema (`--tasks`), in the schema's order.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.io import write_json

MISSING = -1  # a label file's "no label for this task"
# In memory only (never written to a label file): "looked at, and none of this head's
# classes". A -1 cell becomes NONE for a head whose heads.json says `"minus_one": "none"`,
# and every head of a negative photo is NONE. Its loss teaches the head to abstain.
NONE = -2
MINUS_ONE = ("unknown", "none")  # what a -1 cell may mean, declared per head
SCHEMA_FILE = "heads.json"
MAX_HEADS = 16
# Head names become Keras layer names, signature output keys and file names: keep them plain.
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Head:
    name: str  # Keras output layer name, signature output key, model.json key
    short: str  # what the user types: --tasks type,color
    classes: tuple[str, ...]
    none: bool = False  # -1 in this head's column means "none of these classes"

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Heads:
    heads: tuple[Head, ...]

    def __iter__(self):
        return iter(self.heads)

    def __len__(self) -> int:
        return len(self.heads)

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.heads]

    def get(self, name: str) -> Head:
        for head in self.heads:
            if name in (head.name, head.short):
                return head
        raise KeyError(name)

    def select(self, tasks: list[str] | None) -> "Heads":
        """The heads named in `tasks` (short or full names), in this set's order."""
        if not tasks:
            return self
        known = {h.short for h in self.heads} | set(self.names)
        unknown = [t for t in tasks if t not in known]
        if unknown:
            raise ValueError(f"unknown task {unknown[0]!r}; choose from "
                             f"{', '.join(h.short for h in self.heads)}")
        wanted = {self.get(t).name for t in tasks}
        return Heads(tuple(h for h in self.heads if h.name in wanted))

    def to_json(self) -> dict:
        return {"heads": [{"name": h.name, "short": h.short, "classes": list(h.classes),
                           **({"minus_one": "none"} if h.none else {})} for h in self.heads]}

    def declare_none(self, names: list[str]) -> "Heads":
        """These heads (short or full names) with -1 meaning "none of these classes"."""
        wanted = {self.get(n).name for n in names}
        return Heads(tuple(replace(h, none=h.none or h.name in wanted) for h in self.heads))

    @classmethod
    def from_json(cls, data: dict) -> "Heads":
        return parse_schema(data, "heads")

    def labels_by_name(self) -> dict[str, list[str]]:
        return {h.name: list(h.classes) for h in self.heads}

    def columns(self, heads: "Heads", source: str = "label file") -> list[int]:
        """Where each of `heads` is in this schema; a head it lacks (or with other classes)
        is an error naming `source`."""
        out = []
        for head in heads:
            if head.name not in self.names:
                raise PipelineError(f"{source}: has no column for head {head.name!r} (its "
                                    f"heads: {', '.join(self.names)})")
            mine = self.heads[self.names.index(head.name)]
            if mine.classes != head.classes:
                raise PipelineError(f"{source}: head {head.name!r} has classes "
                                    f"{', '.join(mine.classes)}; the model's are "
                                    f"{', '.join(head.classes)}")
            out.append(self.names.index(head.name))
        return out


def parse_schema(data, source: str) -> Heads:
    """A heads.json / labels.json document -> Heads, or one line saying what is wrong."""
    entries = data.get("heads") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_HEADS:
        raise PipelineError(f"{source}: expected {{\"heads\": [...]}} with 1 to {MAX_HEADS} "
                            "heads")
    heads = tuple(_parse_head(entry, i, source) for i, entry in enumerate(entries))
    for what in ("name", "short"):
        values = [getattr(h, what) for h in heads]
        if len(set(values)) != len(values):
            raise PipelineError(f"{source}: two heads have the same {what}")
    return Heads(heads)


def _parse_head(entry, i: int, source: str) -> Head:
    where = f"{source}: head {i + 1}"
    if not isinstance(entry, dict):
        raise PipelineError(f"{where} is not an object")
    name, short, classes = entry.get("name"), entry.get("short", entry.get("name")), \
        entry.get("classes")
    for what, value in (("name", name), ("short", short)):
        if not isinstance(value, str) or not NAME.match(value):
            raise PipelineError(f"{where}: {what} {value!r} must be lower-case letters, digits "
                                "and _, starting with a letter")
    if (not isinstance(classes, list) or len(classes) < 2
            or not all(isinstance(c, str) and c.strip() and "," not in c and "\n" not in c
                       for c in classes) or len(set(classes)) != len(classes)):
        raise PipelineError(f"{where} ({name}): classes must be 2 or more distinct, non-empty "
                            "names without commas")
    minus_one = entry.get("minus_one", "unknown")
    if minus_one not in MINUS_ONE:
        raise PipelineError(f"{where} ({name}): minus_one {minus_one!r} must be one of "
                            f"{', '.join(MINUS_ONE)} (what a -1 cell means)")
    return Head(name, short, tuple(classes), minus_one == "none")


def load_schema(folder: Path | str) -> Heads:
    """The schema of the label files in `folder`: its heads.json, else the flower heads."""
    path = Path(folder) / SCHEMA_FILE
    if not path.is_file():
        return FLOWER_HEADS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{path}: not valid JSON ({exc})") from None
    return parse_schema(data, str(path))


def schema_of(label_file: Path | str) -> Heads:
    return load_schema(Path(label_file).absolute().parent)


def write_schema(folder: Path | str, heads: Heads) -> Path:
    path = Path(folder) / SCHEMA_FILE
    write_json(path, heads.to_json())
    return path


FLOWER_HEADS = Heads((
    Head("flower_type", "type", ("rose", "daisy")),
    Head("flower_color", "color", ("red", "pink", "white")),
))
