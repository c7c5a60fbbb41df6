"""`pipeline data split`: a label file into train.txt, val.txt and test.txt.

It validates its input the way every stage does before it writes anything, and writes the
schema it read (heads.json) beside the split files; negatives are split the same way, by kind.
"""
from __future__ import annotations

from pathlib import Path

import typer

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import Heads, schema_of, write_schema
from pipeline.data import negatives as negatives_lib
from pipeline.heads.schema import MISSING
from pipeline.data.labels import (SPLITS, LabelFileError, Sample, class_counts, split_samples,
                                  validate_label_file, write_label_file)
from pipeline.data.negatives import FILE as NEGATIVES


def declare_none(heads: Heads, names: list[str], source) -> Heads:
    try:
        return heads.declare_none(names)
    except KeyError as exc:
        raise PipelineError(f"--none: {source} has no head {exc.args[0]!r} (its heads: "
                            f"{', '.join(h.short for h in heads)})") from None


def check_none_rows(heads: Heads, samples: list[Sample], source) -> None:
    """A head whose -1 means "none of these" must have -1 rows: else the declaration is a
    mistake (nothing would teach that head to abstain)."""
    for i, head in enumerate(heads):
        if head.none and not any(s.labels[i] == MISSING for s in samples):
            raise PipelineError(f"{source}: {head.name} is declared \"-1 = none of these\" "
                                "but no line has -1 in its column")


def split_negatives(path, heads: Heads, fractions, seed: int) -> dict:
    """{split: (samples, kinds)}: stratified by kind, like the labelled photos."""
    samples, kinds = negatives_lib.read(path, heads)
    names = sorted(set(kinds))
    keyed = [Sample(s.path, (names.index(k),), s.line) for s, k in zip(samples, kinds)]
    original = {s.path: s for s in samples}
    return {split: ([original[s.path] for s in part], [names[s.labels[0]] for s in part])
            for split, part in split_samples(keyed, fractions, seed).items()}


def _kind_counts(kinds: list[str]) -> str:
    return ", ".join(f"{k} {kinds.count(k)}" for k in sorted(set(kinds)))

def counts_table(groups: dict[str, list[Sample]], heads: Heads) -> str:
    """One row per group: its images, then the count of each class of each head (and 'none')."""
    header, titles = ["", "images"], []
    for head in heads:
        titles.append((len(header), head.name))
        header += ["|", *head.impl.count_columns(head)]
    rows = [header]
    for label, samples in groups.items():
        counts = class_counts(samples, heads)
        rows.append([label, str(len(samples))] + [cell for head in heads for cell in (
            "|", *(str(counts[head.name][name]) for name in head.impl.count_columns(head)))])
    widths = [max(len(row[j]) for row in rows) for j in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if j == 0 else cell.rjust(w)
                       for j, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    title = " " * len(lines[0])
    for j, name in titles:  # each head's name above its block
        at = sum(w + 2 for w in widths[:j])
        title = title[:at] + name + title[at + len(name):]
    return "\n".join([title.rstrip()] + lines)


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
          force: bool = False, negatives: Path | str | None = None,
          none: list[str] | None = None) -> dict[str, list[Sample]]:
    """Write train.txt, val.txt and test.txt into `out`, stratified and deterministic.

    negatives: a `path, kind` file of photos that are no class of any head, split the same
    way (by kind) into negatives_<split>.txt. none: heads whose -1 means "none of these"
    (recorded in heads.json)."""
    fractions, out = parse_ratios(ratios), Path(out)
    targets = {name: out / f"{name}.txt" for name in SPLITS}
    old_negatives = [out / NEGATIVES.format(split=n) for n in SPLITS]
    if negatives:
        targets.update({f"negatives_{n}": p for n, p in zip(SPLITS, old_negatives)})
    existing = [str(path) for path in [*targets.values(), *old_negatives] if path.exists()]
    if existing and not force:
        raise PipelineError(f"{existing[0]} already exists; pass --force to overwrite the "
                            "split files")
    if out.exists() and not out.is_dir():
        raise PipelineError(f"{out} exists and is not a folder")
    heads = declare_none(schema_of(labels), none or [], labels)
    samples, problems = validate_label_file(labels, heads)  # all valid, before writing
    if any(not p.warning for p in problems):
        raise LabelFileError(problems)
    check_none_rows(heads, samples, labels)
    negative_parts = split_negatives(negatives, heads, fractions, seed) if negatives else {}
    for problem in problems:  # e.g. a repeated line, dropped: no image in two splits
        typer.echo(str(problem), err=True)
    parts = split_samples(samples, fractions, seed, heads)
    strata = ", ".join(h.short for h in heads if h.impl.stratify) or "nothing"
    for name in SPLITS:
        write_label_file(targets[name], parts[name], f"{name} split of {labels} (ratios "
                                                     f"{ratios}, seed {seed}), stratified "
                                                     f"over ({strata})", heads)
    for name, (chosen, kinds) in negative_parts.items():
        negatives_lib.write(targets[f"negatives_{name}"], chosen, kinds)
    for path in old_negatives if not negatives else []:  # a split without them: none stale
        path.unlink(missing_ok=True)
    write_schema(out, heads)
    typer.echo(counts_table({**parts, "total": samples}, heads))
    for name, (chosen, kinds) in negative_parts.items():
        typer.echo(f"negatives {name}: {len(chosen)} ({_kind_counts(kinds)})")
    typer.echo(f"wrote {', '.join(str(p) for p in targets.values())} and heads.json")
    return parts


def run(o) -> dict[str, list[Sample]]:
    """`pipeline data split` (options.SplitOptions)."""
    return split(o.labels, o.out, o.ratios, o.seed, o.force, o.negatives, o.none)
