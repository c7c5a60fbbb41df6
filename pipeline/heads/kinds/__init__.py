"""The head kinds: `"kind"` in heads.json picks one (default classification).

Adding a kind is one module subclassing `base.Kind` and one entry below; every stage asks
`get(head.kind)` for what depends on it.
"""
from __future__ import annotations

from pipeline.core.errors import PipelineError
from pipeline.heads.kinds import classification, multilabel, regression
from pipeline.heads.kinds.base import MISSING, NONE, Kind

KINDS: dict[str, Kind] = {k.name: k for k in (classification.KIND, multilabel.KIND,
                                              regression.KIND)}
DEFAULT = classification.KIND.name

__all__ = ["DEFAULT", "KINDS", "MISSING", "NONE", "Kind", "get"]


def get(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise PipelineError(f"unknown head kind {name!r}; choose from "
                            f"{', '.join(KINDS)}") from None
