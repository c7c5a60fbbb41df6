"""The article's label-file format: `path, type, colour` one image a line.

A relative path is relative to the label file's folder; -1 means "no label for this task";
blank lines and `#` comments are allowed. Every problem is reported as `FILE:LINE: reason`.
The columns after the path are the heads of the file's schema: heads.json beside it, else
the flower heads (`pipeline.heads.schema.schema_of`).
"""
from __future__ import annotations

import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.io import atomic_write_text
from pipeline.heads.schema import NONE, Heads, schema_of
from pipeline.heads.kinds.classification import KIND as CLASSIFICATION


@dataclass(frozen=True)
class Sample:
    path: Path  # absolute
    labels: tuple  # one value per head, in head order, as the head's kind reads a cell
    line: int = 0  # where it came from, for messages


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    reason: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {'warning: ' if self.warning else ''}{self.reason}"


class LabelFileError(PipelineError):
    """A label file with errors; str() is the first problem, `problems` holds them all."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if not p.warning]
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")


def parse_line(text: str, heads: Heads) -> tuple[str, tuple] | str:
    """One non-blank, non-comment line -> (path, labels), or the reason it is wrong."""
    fields = [f.strip() for f in text.split(",")]
    if len(fields) != 1 + len(heads):
        return (f"expected {1 + len(heads)} comma-separated fields "
                f"(path, {', '.join(h.short for h in heads)}), found {len(fields)}")
    if not fields[0]:
        return "empty image path"
    labels = []
    for head, field in zip(heads, fields[1:]):
        value = head.impl.parse_cell(field, head)
        if isinstance(value, str):
            return value
        labels.append(value)
    return fields[0], tuple(labels)


def parse_text(text: str, source: Path, heads: Heads) -> tuple[list[Sample], list[Problem]]:
    """Parse a whole label file's text; never raises for bad content."""
    samples, problems = [], []
    name, base = str(source), source.parent
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parsed = parse_line(line, heads)
        if isinstance(parsed, str):
            problems.append(Problem(name, number, parsed))
            continue
        path, labels = parsed
        if all(h.impl.is_missing(v) and not h.none for v, h in zip(labels, heads)):
            problems.append(Problem(name, number, "no label for any task; the image is unused",
                                    warning=True))
        samples.append(Sample(resolve_path(base, path), labels, number))
    if not samples and not any(not p.warning for p in problems):
        problems.append(Problem(name, 0, "label file has no images"))
    return samples, problems


def resolve_path(base: Path, path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate)


def read_label_file(path: Path | str, heads: Heads | None = None
                    ) -> tuple[list[Sample], list[Problem]]:
    """Samples and problems of a label file, read with `heads` (default: its own schema)."""
    path = Path(path)
    if not path.is_file():
        reason = "label file not found" if not path.exists() else "not a file"
        return [], [Problem(str(path), 0, reason)]
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return [], [Problem(str(path), line, "not UTF-8 text (undecodable bytes); "
                                              "is this a label file?")]
    return parse_text(text, path.absolute(), heads or schema_of(path))


def check_images(samples: list[Sample], source: Path | str) -> list[Problem]:
    """Decode every image once (in parallel, JPEGs at their smallest scale: images.check_decodes);
    report the ones no stage could use."""
    from pipeline.data.decode_pool import decode_ordered
    from pipeline.data.images import ImageError, check_decodes

    problems = []
    for sample, failed in decode_ordered(samples, lambda s: check_decodes(s.path),
                                           (ImageError,)):
        if isinstance(failed, ImageError):
            problems.append(Problem(str(source), sample.line, f"{sample.path}: {failed}"))
    return problems


def unique(samples: list[Sample], source: Path | str) -> tuple[list[Sample], list[Problem]]:
    """Each image once (its first line): a repeat is a warning, with other labels an error."""
    first: dict[Path, Sample] = {}
    problems = []
    for sample in samples:
        seen = first.setdefault(sample.path.resolve(), sample)
        if seen is not sample:
            other = "" if seen.labels == sample.labels else " with other labels"
            problems.append(Problem(str(source), sample.line, f"{sample.path} is already listed "
                                    f"on line {seen.line}{other}", warning=not other))
    return list(first.values()), problems


def validate_label_file(path: Path | str, heads: Heads | None = None, images: bool = True
                        ) -> tuple[list[Sample], list[Problem]]:
    """The one validation of a label file, `pipeline data check`'s and every stage's: fields
    and indices, each image listed once (the first line wins), and every image decoded.
    images=False skips the decoding, for a reader that decodes each image itself and reports
    the ones that fail (the report). Returns (samples, every problem, warnings included)."""
    samples, problems = read_label_file(path, heads)
    samples, repeats = unique(samples, path)
    problems = problems + repeats
    if images:
        problems += check_images(samples, path)
    return samples, problems


def load_label_file(path: Path | str, heads: Heads | None = None,
                    images: bool = True) -> list[Sample]:
    """The samples of a valid label file, or LabelFileError: no stage starts on a file that
    `pipeline data check` refuses."""
    samples, problems = validate_label_file(path, heads, images)
    if any(not p.warning for p in problems):
        raise LabelFileError(problems)
    return samples


def select_heads(samples: list[Sample], schema: Heads, heads: Heads, source: str,
                 drop_unlabelled: bool = False) -> list[Sample]:
    """Samples read with the file's `schema`, narrowed to the model's `heads` (in their order):
    every stage after reading works on the model's columns only. A -1 in a column the schema
    declares "none of these" becomes NONE (what -1 means is the data's, not the model's).
    drop_unlabelled: leave out images with no label for any of `heads` (they teach nothing)."""
    columns = schema.columns(heads, source)
    none = [schema.heads[c].none for c in columns]
    narrowed = [Sample(s.path, tuple(NONE if n and h.impl.is_missing(v) else v
                                     for v, n, h in zip((s.labels[c] for c in columns), none,
                                                        heads)), s.line) for s in samples]
    if drop_unlabelled:
        narrowed = [s for s in narrowed
                    if any(not h.impl.is_missing(v) for v, h in zip(s.labels, heads))]
    return narrowed


def format_line(sample: Sample, base: Path, heads: Heads | None = None) -> str:
    """One label-file line; cells in `heads`' kinds (None: classification indices)."""
    try:
        shown = os.path.relpath(sample.path, base)
    except ValueError:  # another drive on Windows
        shown = str(sample.path)
    if "," in shown:
        raise PipelineError(f"{sample.path}: a comma in an image path cannot be written "
                            "to a label file")
    return ", ".join([shown.replace(os.sep, "/")] +
                     [(h.impl if h else CLASSIFICATION).format_cell(v)
                      for h, v in zip(heads or [None] * len(sample.labels), sample.labels)])


def write_label_file(path: Path | str, samples: list[Sample], header: str = "",
                     heads: Heads | None = None) -> None:
    """Write atomically, paths relative to the file's own folder; cells in `heads`' kinds
    (default: classification indices)."""
    path = Path(path)
    base = path.absolute().parent
    lines = [f"# {h}" for h in header.splitlines()] + [format_line(s, base, heads)
                                                        for s in samples]
    atomic_write_text(path, "\n".join(lines) + "\n")


SPLITS = ("train", "val", "test")


def split_samples(samples: list[Sample], ratios: tuple[float, float, float] = (0.6, 0.25, 0.15),
                  seed: int = 0, heads: Heads | None = None) -> dict[str, list[Sample]]:
    """Stratified over the classification heads' labels (-1 its own value; other kinds of
    `heads` are not stratified), deterministic for a seed.

    Each stratum is shuffled and cut where the running totals over all strata so far round
    to the ratios: every class stays within one image of its share and the totals stay exact
    (rounding each stratum alone would bias small sets). An image listed twice counts once.
    """
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise PipelineError(f"ratios must be three non-negative numbers summing to 1, got {ratios}")
    by_path = {s.path: s for s in reversed(samples)}  # the first line of a repeated image wins
    strata: dict[tuple, list[Sample]] = defaultdict(list)
    stratified = [h.impl.stratify for h in heads] if heads is not None else []
    for sample in sorted(by_path.values(), key=lambda s: str(s.path)):
        key = sample.labels if heads is None else tuple(
            v for v, keep in zip(sample.labels, stratified) if keep)
        strata[key].append(sample)
    rng = random.Random(seed)
    parts: dict[str, list[Sample]] = {name: [] for name in SPLITS}
    seen = 0
    for key in sorted(strata):
        group = strata[key]
        rng.shuffle(group)
        before = (_share(ratios[0], seen), _share(ratios[0] + ratios[1], seen))
        seen += len(group)
        cut1 = _share(ratios[0], seen) - before[0]
        cut2 = max(cut1, _share(ratios[0] + ratios[1], seen) - before[1])
        parts["train"] += group[:cut1]
        parts["val"] += group[cut1:cut2]
        parts["test"] += group[cut2:]
    for name in SPLITS:
        rng.shuffle(parts[name])
    return parts


def _share(ratio: float, count: int) -> int:
    return int(ratio * count + 0.5 + 1e-9)


def class_counts(samples: list[Sample], heads: Heads) -> dict[str, Counter]:
    """Per head: class name (or 'none', or what its kind counts) -> count."""
    counts = {}
    for i, head in enumerate(heads):
        counts[head.name] = Counter(key for s in samples
                                    for key in head.impl.counts_key(s.labels[i], head))
    return counts
