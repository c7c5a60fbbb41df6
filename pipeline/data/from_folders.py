"""`pipeline data from-folders`: photos sorted into class folders -> a label file + heads.json.

Layouts (folder names are case-insensitive):
- `<a>_<b>/`: head 1 class a, head 2 class b (the first `_` separates them);
- `<a>/<b>/`: the same, nested;
- `<a>/`: head 1 class a, no label (-1) for head 2 (a one-head dataset has only this layout).
Images may sit in further sub-folders of a class folder; hidden files and folders are skipped.

Without `--heads` the article's flower heads apply and only their class names are accepted,
in their fixed order. With `--heads kind,make` (one or two names) the classes are whatever the
folders are called, sorted, and heads.json beside the label file records them.
"""
from __future__ import annotations

from pathlib import Path

import typer

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import FLOWER_HEADS, MISSING, Heads, parse_schema, write_schema
from pipeline.data.images import is_image_file
from pipeline.data.labels import Sample, write_label_file

def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(folder: Path, recursive: bool = True) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if is_image_file(p, folder))


def scan(root: Path, two_levels: bool) -> list[tuple[Path, tuple[str, ...]]]:
    """(image, class names per head, '' = no label) for every image under `root`."""
    found = []
    for folder in _visible_dirs(root):
        name = folder.name.lower()
        if two_levels and "_" in name:
            found += [(p, tuple(name.split("_", 1))) for p in _images(folder)]
            continue
        if not two_levels:
            found += [(p, (name,)) for p in _images(folder)]
            continue
        found += [(p, (name, "")) for p in _images(folder, recursive=False)]
        for sub in _visible_dirs(folder):
            found += [(p, (name, sub.name.lower())) for p in _images(sub)]
    return found


def discovered_heads(names: list[str], found) -> Heads:
    """--heads names, with the classes the folder names give (checked like a heads.json)."""
    entries = [{"name": name, "classes": sorted({labels[i] for _, labels in found if labels[i]})}
               for i, name in enumerate(names)]
    return parse_schema({"heads": entries}, "--heads (classes from the folder names)")


def _check_known(found, heads: Heads) -> None:
    """With the built-in flower heads, every folder name must be one of their classes."""
    for path, labels in found:
        for head, label in zip(heads, labels):
            if label and label not in head.classes:
                combos = ", ".join(f"{t}_{c}" for t in heads.heads[0].classes
                                   for c in heads.heads[1].classes)
                raise PipelineError(
                    f"unknown folder {label!r} for {head.name} ({path.parent}); accepted "
                    f"folder names: {combos}; or {', '.join(heads.heads[0].classes)} alone, "
                    f"optionally holding {', '.join(heads.heads[1].classes)} sub-folders; "
                    "or name your own heads with --heads")


def from_folders(root: Path | str, out: Path | str, head_names: list[str] | None = None
                 ) -> list[Sample]:
    """Write the label file `out` and heads.json beside it; return the samples."""
    from pipeline.data.split import counts_table

    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise PipelineError(f"{root}: not a folder" if root.exists() else f"{root}: not found")
    if head_names is not None and not 1 <= len(head_names) <= 2:
        raise PipelineError("--heads takes one or two names (folder layouts have two levels)")
    found = scan(root, two_levels=head_names is None or len(head_names) == 2)
    if not found:
        raise PipelineError(f"no images found in {root}; see `pipeline data from-folders --help`")
    if head_names is None:
        heads = FLOWER_HEADS
        _check_known(found, heads)
    else:
        heads = discovered_heads(head_names, found)
    samples = [Sample(path.absolute(), tuple(h.classes.index(c) if c else MISSING
                                             for h, c in zip(heads, labels)))
               for path, labels in found]
    write_label_file(out, samples, f"made by pipeline data from-folders {root}")
    write_schema(out.absolute().parent, heads)
    typer.echo(counts_table({str(out): samples}, heads))
    typer.echo(f"wrote {out} ({len(samples)} images) and heads.json beside it; check it with: "
               f"pipeline data check {out}")
    return samples


def run(o) -> list[Sample]:
    """`pipeline data from-folders` (options.FromFoldersOptions)."""
    return from_folders(o.root, o.out, o.heads)
