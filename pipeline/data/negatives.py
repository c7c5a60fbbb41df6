"""Negatives: photos that are no class of any head (a cat, a tulip for a rose/daisy model).

A negatives file is `path, kind` one photo a line (a relative path is relative to the file's
folder): the kind names what the photo shows and is not a class of any head; it is kept for
reporting "not sure" per kind. In memory every head of a negative is NONE, which the loss
turns into "abstain" (multitask.py). `pipeline data split --negatives` splits such a file
60/25/15 by kind into negatives_train.txt / negatives_val.txt / negatives_test.txt.
"""
from __future__ import annotations

import re
from pathlib import Path

from pipeline.heads.schema import Heads
from pipeline.core.io import atomic_write_text
from pipeline.data.labels import (LabelFileError, Problem, Sample, resolve_path, check_images,
                                  format_line, unique)

NAME_OF_KIND = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,39}$")
FILE = "negatives_{split}.txt"


def read(path: Path | str, heads: Heads, images: bool = True
                   ) -> tuple[list[Sample], list[str]]:
    """A negatives file (`path, kind` one photo a line: photos that are no class of any head)
    -> (samples labelled NONE for every head, their kinds); LabelFileError on any problem."""
    path = Path(path)
    if not path.is_file():
        raise LabelFileError([Problem(str(path), 0, "negatives file not found")])
    problems, found = [], []
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabelFileError([Problem(str(path), 0, "not UTF-8 text")]) from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 2:
            problems.append(Problem(str(path), number, "a negatives file has `path, kind` "
                                    f"(2 fields, no class columns), found {len(fields)}"))
        elif not fields[0] or not NAME_OF_KIND.match(fields[1]):
            problems.append(Problem(str(path), number, "expected `path, kind` (a kind of "
                                    f"letters, digits, _ or -), found {line!r}"))
        else:
            sample = Sample(resolve_path(path.absolute().parent, fields[0]), tuple(h.impl.none_value() for h in heads),
                            number)
            found.append((sample, fields[1]))
    if not found and not problems:
        problems.append(Problem(str(path), 0, "negatives file has no images"))
    kind_of = {s.line: kind for s, kind in found}
    samples, repeats = unique([s for s, _ in found], path)
    problems += repeats
    if images and not any(not p.warning for p in problems):
        problems += check_images(samples, path)
    if any(not p.warning for p in problems):
        raise LabelFileError(problems)
    return samples, [kind_of[s.line] for s in samples]


def write(path: Path | str, samples: list[Sample], kinds: list[str]) -> None:
    """`path, kind` lines, paths relative to the file's folder, written atomically."""
    path = Path(path)
    base = path.absolute().parent
    lines = [format_line(Sample(s.path, (), s.line), base) + f", {kind}"
             for s, kind in zip(samples, kinds)]
    atomic_write_text(path, "# photos that are no class of any head: path, kind\n"
                      + "\n".join(lines) + "\n")
