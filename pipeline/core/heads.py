"""The task heads: names, label-file columns and class names, as data.

Every module loops over a `Heads` value instead of naming tasks itself, so the same
pipeline can serve other multi-task problems (a car's kind and make, face attributes).
Column i of a label file (after the path) holds the class index of head i; -1 = no label.
"""
from __future__ import annotations

from dataclasses import dataclass

MISSING = -1  # a label file's "no label for this task"


@dataclass(frozen=True)
class Head:
    name: str  # Keras output layer name, signature output key, model.json key
    short: str  # what the user types: --tasks type,color
    classes: tuple[str, ...]

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
        return {"heads": [{"name": h.name, "short": h.short, "classes": list(h.classes)}
                          for h in self.heads]}

    @classmethod
    def from_json(cls, data: dict) -> "Heads":
        return cls(tuple(Head(d["name"], d["short"], tuple(d["classes"])) for d in data["heads"]))

    def labels_by_name(self) -> dict[str, list[str]]:
        return {h.name: list(h.classes) for h in self.heads}


FLOWER_HEADS = Heads((
    Head("flower_type", "type", ("rose", "daisy")),
    Head("flower_color", "color", ("red", "pink", "white")),
))
