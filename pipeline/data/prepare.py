"""Label files in and out: `pipeline data check`, `split` and `from-folders`.

`check` reports every problem as one `FILE:LINE: reason` line and changes nothing; `split`
validates its input the way every stage does before it writes anything; `from_folders` turns
photos sorted into class folders into a label file in the article's format.
"""
from __future__ import annotations

from pathlib import Path

import typer

from pipeline.core.errors import PipelineError
from pipeline.core.heads import FLOWER_HEADS, MISSING, Heads
from pipeline.core.labels import (SPLITS, LabelFileError, Sample, class_counts, split_samples,
                                  validate_label_file, write_label_file)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def counts_table(groups: dict[str, list[Sample]], heads: Heads = FLOWER_HEADS) -> str:
    """One row per group: its images, then the count of each class of each head (and 'none')."""
    header, titles = ["", "images"], []
    for head in heads:
        titles.append((len(header), head.name))
        header += ["|", *head.classes, "none"]
    rows = [header]
    for label, samples in groups.items():
        counts = class_counts(samples, heads)
        rows.append([label, str(len(samples))] + [cell for head in heads for cell in (
            "|", *(str(counts[head.name][name]) for name in (*head.classes, "none")))])
    widths = [max(len(row[j]) for row in rows) for j in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if j == 0 else cell.rjust(w)
                       for j, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    title = " " * len(lines[0])
    for j, name in titles:  # each head's name above its block
        at = sum(w + 2 for w in widths[:j])
        title = title[:at] + name + title[at + len(name):]
    return "\n".join([title.rstrip()] + lines)


def check(labels: Path | str, heads: Heads = FLOWER_HEADS) -> bool:
    """Print class counts and every problem (`FILE:LINE: reason`); True if there is no error."""
    samples, problems = validate_label_file(labels, heads)
    if samples:
        typer.echo(counts_table({str(labels): samples}, heads))
    for problem in sorted(problems, key=lambda p: p.line):
        typer.echo(str(problem))
    errors = sum(not p.warning for p in problems)
    warnings = len(problems) - errors
    verdict = "OK" if not errors else f"{errors} error{'s' * (errors != 1)}"
    typer.echo(f"{labels}: {verdict}, {warnings} warning{'s' * (warnings != 1)}, "
               f"{len(samples)} image{'s' * (len(samples) != 1)} listed")
    return errors == 0


def parse_ratios(text: str) -> tuple[float, float, float]:
    try:
        ratios = tuple(float(part) for part in text.split(","))
    except ValueError:
        ratios = ()
    if len(ratios) != 3 or any(not 0 <= r <= 1 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise PipelineError(f"--ratios must be three fractions summing to 1, like "
                            f"0.6,0.25,0.15; got {text!r}")
    return ratios  # type: ignore[return-value]


def split(labels: Path | str, out: Path | str, ratios: str = "0.6,0.25,0.15", seed: int = 0,
          force: bool = False, heads: Heads = FLOWER_HEADS) -> dict[str, list[Sample]]:
    """Write train.txt, val.txt and test.txt into `out`, stratified and deterministic."""
    fractions, out = parse_ratios(ratios), Path(out)
    targets = {name: out / f"{name}.txt" for name in SPLITS}
    existing = [str(path) for path in targets.values() if path.exists()]
    if existing and not force:
        raise PipelineError(f"{existing[0]} already exists; pass --force to overwrite the "
                            "split files")
    if out.exists() and not out.is_dir():
        raise PipelineError(f"{out} exists and is not a folder")
    samples, problems = validate_label_file(labels, heads)  # all valid, before writing
    if any(not p.warning for p in problems):
        raise LabelFileError(problems)
    for problem in problems:  # e.g. a repeated line, dropped: no image in two splits
        typer.echo(str(problem), err=True)
    parts = split_samples(samples, fractions, seed)
    strata = ", ".join(h.short for h in heads)
    for name, path in targets.items():
        write_label_file(path, parts[name], f"{name} split of {labels} (ratios {ratios}, "
                                             f"seed {seed}), stratified over ({strata})")
    typer.echo(counts_table({**parts, "total": samples}, heads))
    typer.echo(f"wrote {', '.join(str(p) for p in targets.values())}")
    return parts


def _class_folder(name: str, heads: Heads) -> tuple[int, ...] | None:
    """`<type>_<colour>` -> both labels; `<type>` -> (type, -1, ...); anything else -> None."""
    first, rest = heads.heads[0], heads.heads[1:]
    parts = name.lower().split("_")
    if len(parts) not in (1, 1 + len(rest)) or parts[0] not in first.classes:
        return None
    labels = [first.classes.index(parts[0])] + [MISSING] * len(rest)
    for i, (head, part) in enumerate(zip(rest, parts[1:]), start=1):
        if part not in head.classes:
            return None
        labels[i] = head.classes.index(part)
    return tuple(labels)


def _accepted(heads: Heads) -> str:
    first, second = heads.heads[0], heads.heads[1]
    combos = [f"{t}_{c}" for t in first.classes for c in second.classes]
    return (f"accepted folder names: {', '.join(combos)}; or {', '.join(first.classes)} alone, "
            f"optionally holding {', '.join(second.classes)} sub-folders")


def _is_image(path: Path, folder: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
    return path.is_file() and not hidden and path.suffix.lower() in IMAGE_SUFFIXES


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if _is_image(p, folder))


def _folder_samples(folder: Path, labels: tuple[int, ...], heads: Heads) -> list[Sample]:
    """Images of one class folder; a bare `<type>/` folder may hold `<colour>/` sub-folders."""
    if labels[1] != MISSING:
        return [Sample(p.absolute(), labels) for p in _images_under(folder)]
    samples = [Sample(p.absolute(), labels) for p in sorted(folder.iterdir()) if _is_image(p, folder)]
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        colour = heads.heads[1].classes
        if sub.name.lower() not in colour:
            raise PipelineError(f"unknown folder {sub}: inside {folder.name}/ use "
                                f"{', '.join(colour)} sub-folders (or none)")
        sub_labels = (labels[0], colour.index(sub.name.lower()), *labels[2:])
        samples += [Sample(p.absolute(), sub_labels) for p in _images_under(sub)]
    return samples


def from_folders(root: Path | str, out: Path | str, heads: Heads = FLOWER_HEADS) -> list[Sample]:
    """Photos in `<type>_<colour>/`, `<type>/<colour>/` or `<type>/` folders -> a label file."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise PipelineError(f"{root}: not a folder" if root.exists() else f"{root}: not found")
    samples: list[Sample] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        labels = _class_folder(folder.name, heads)
        if labels is None:
            raise PipelineError(f"unknown folder {folder}; {_accepted(heads)}")
        samples += _folder_samples(folder, labels, heads)
    if not samples:
        raise PipelineError(f"no images found in {root}; {_accepted(heads)}")
    write_label_file(out, samples, f"made by pipeline data from-folders {root}")
    typer.echo(counts_table({str(out): samples}, heads))
    typer.echo(f"wrote {out} ({len(samples)} images); check it with: pipeline data check {out}")
    return samples
