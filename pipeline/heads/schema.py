"""The task heads: names, label-file columns and class names, as data.

Every module loops over a `Heads` value instead of naming tasks itself, so the same
pipeline serves other multi-task problems (a car's kind and make, face attributes). What a
head's cells, output, loss and scores are is its kind's (`heads/kinds/`, `"kind"` in heads.json,
default classification).

Two uses of one type, kept apart everywhere:
- a dataset's *schema*: the columns of its label files. Column i after the path holds the
  label of head i in its kind's format (classification: class index, -1 = no label). A folder of label files declares it in heads.json
  (the shape of a run's labels.json); without one, the article's flower heads apply.
- a model's *heads*: a selection of the schema (`--tasks`), in the schema's order.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pipeline.heads import kinds
from pipeline.core.errors import PipelineError
from pipeline.core.io import write_json
from pipeline.heads.kinds.base import MISSING, NONE  # noqa: F401 (re-export)
from pipeline.heads.kinds.classification import MINUS_ONE  # noqa: F401 (re-export)
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
    kind: str = kinds.DEFAULT
    # the kind's own parameters as set, sorted (key, value) pairs; defaults in Kind.params
    params: tuple = ()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def impl(self) -> kinds.Kind:
        return kinds.get(self.kind)

    @property
    def described(self) -> str:
        """'flower_type (rose, daisy)'; a head without classes by its kind: 'shade (regression)'."""
        return f"{self.name} ({', '.join(self.classes) or self.kind})"

    def __post_init__(self):
        # every parameter of its kind, defaults filled in: two heads that say the same are equal
        filled = {**self.impl.params, **dict(self.params)}
        object.__setattr__(self, "params", tuple(sorted(filled.items())))

    def param(self, key: str):
        """One of its kind's parameters (as set, else the kind's default)."""
        return dict(self.params)[key]

    def with_params(self, **values) -> "Head":
        return replace(self, params=tuple({**dict(self.params), **values}.items()))

    def to_json(self) -> dict:
        entry = {"name": self.name, "short": self.short}
        if self.kind != kinds.DEFAULT:
            entry["kind"] = self.kind
        if self.impl.has_classes:
            entry["classes"] = list(self.classes)
        if self.none:
            entry["minus_one"] = "none"
        entry.update({key: self.param(key) for key in self.impl.params})
        return entry


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
        return {"heads": [h.to_json() for h in self.heads]}

    @property
    def width(self) -> int:
        """Columns of a label matrix: each head's kind's width, in head order."""
        return sum(h.impl.width(h) for h in self.heads)

    def slices(self) -> list[slice]:
        """Each head's columns in a label matrix [N, width]."""
        out, start = [], 0
        for head in self.heads:
            out.append(slice(start, start + head.impl.width(head)))
            start = out[-1].stop
        return out

    def block(self, labels, i: int) -> np.ndarray:
        """Head i's labels from a label matrix: [N] for a one-column kind, else [N, width], in
        its kind's dtype (class indices as integers)."""
        part = np.asarray(labels).reshape(-1, self.width)[:, self.slices()[i]]
        part = part.astype(self.heads[i].impl.dtype)
        return part[:, 0] if part.shape[1] == 1 else part

    def encode(self, samples) -> np.ndarray:
        """Samples' labels (in these heads' order) -> the float32 label matrix [N, width]."""
        rows = [[v for head, value in zip(self.heads, s.labels)
                 for v in head.impl.encode(value, head)] for s in samples]
        return np.array(rows, dtype=np.float32).reshape(len(rows), self.width)

    def missing_row(self) -> np.ndarray:
        """The label-matrix row of an image with no label for any head (padding)."""
        return self.encode([_Unlabelled(tuple(h.impl.missing for h in self.heads))])[0]

    def fitted(self, samples) -> "Heads":
        """Each head with what its kind sets from these (training) samples' labels (regression:
        the targets' center and scale)."""
        return Heads(tuple(head.impl.fitted(head, [s.labels[i] for s in samples])
                           for i, head in enumerate(self.heads)))

    def declare_none(self, names: list[str]) -> "Heads":
        """These heads (short or full names) with -1 meaning "none of these classes"."""
        wanted = {self.get(n).name for n in names}
        other = [h for h in self.heads if h.name in wanted and not h.impl.declines]
        if other:
            raise PipelineError(f"--none {other[0].short}: a {other[0].kind} head has no "
                                "\"none of these\" declaration (its cells say it themselves)")
        return Heads(tuple(replace(h, none=h.none or h.name in wanted) for h in self.heads))

    @classmethod
    def from_json(cls, data: dict) -> "Heads":
        return parse_schema(data, "heads")

    def labels_by_name(self) -> dict[str, list[str]]:
        return {h.name: list(h.classes) for h in self.heads}

    def tasks(self) -> list[dict]:
        """model.json's `tasks`: each head as heads.json has it, its classes (under `heads`)
        apart."""
        return [{k: v for k, v in h.to_json().items() if k != "classes"} for h in self.heads]

    def columns(self, heads: "Heads", source: str = "label file") -> list[int]:
        """Where each of `heads` is in this schema; a head it lacks (or with other classes)
        is an error naming `source`."""
        out = []
        for head in heads:
            if head.name not in self.names:
                raise PipelineError(f"{source}: has no column for head {head.name!r} (its "
                                    f"heads: {', '.join(self.names)})")
            mine = self.heads[self.names.index(head.name)]
            if mine.kind != head.kind:
                raise PipelineError(f"{source}: head {head.name!r} is {mine.kind}; the "
                                    f"model's is {head.kind}")
            if mine.classes != head.classes:
                raise PipelineError(f"{source}: head {head.name!r} has classes "
                                    f"{', '.join(mine.classes)}; the model's are "
                                    f"{', '.join(head.classes)}")
            out.append(self.names.index(head.name))
        return out


@dataclass(frozen=True)
class _Unlabelled:
    labels: tuple


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
    name, short = entry.get("name"), entry.get("short", entry.get("name"))
    for what, value in (("name", name), ("short", short)):
        if not isinstance(value, str) or not NAME.match(value):
            raise PipelineError(f"{where}: {what} {value!r} must be lower-case letters, digits "
                                "and _, starting with a letter")
    kind_name = entry.get("kind", kinds.DEFAULT)
    if kind_name not in kinds.KINDS:
        raise PipelineError(f"{where} ({name}): unknown kind {kind_name!r}; choose from "
                            f"{', '.join(kinds.KINDS)}")
    kind = kinds.get(kind_name)
    for other in kinds.KINDS.values():  # another kind's own settings: a wrong kind, say so
        settable = [k for k in other.params if k not in other.fitted_params]
        if other is not kind and any(k in entry for k in settable):
            raise PipelineError(f"{where} ({name}): {' and '.join(settable)} apply to "
                                f"{other.name} heads, not {kind_name}")
    wrong = kind.check_entry(entry, where)
    if wrong:
        raise PipelineError(f"{where} ({name}): {wrong}")
    params = tuple(sorted(kind.parse_params(entry, where).items()))
    return Head(name, short, tuple(entry.get("classes", ())), entry.get("minus_one") == "none",
                kind=kind_name, params=params)


def spec_heads(spec: dict, source: str) -> Heads:
    """The heads a model.json describes: `tasks` (kind, unit, ... in column order; a file
    from before head kinds names and short names only: classification) with `heads`' classes."""
    tasks = spec.get("tasks") or [{"name": n} for n in spec["heads"]]
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise PipelineError(f"{source}: 'tasks' is not a list of heads")
    classes, entries = spec["heads"], []
    for task in tasks:
        kind = kinds.KINDS.get(task.get("kind", kinds.DEFAULT))
        if kind is None:
            raise PipelineError(f"{source}: task {task.get('name')!r} is of unknown kind "
                                f"{task.get('kind')!r} (this pipeline knows "
                                f"{', '.join(kinds.KINDS)})")
        entries.append({**task, **({"classes": classes.get(task.get("name"))}
                                   if kind.has_classes else {})})
    heads = parse_schema({"heads": entries}, source)
    if sorted(heads.names) != sorted(classes):
        raise PipelineError(f"{source}: 'tasks' and 'heads' name other heads")
    return heads


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
