"""A re-export of some variants (`pipeline export --variants float16`) keeps the others.

The new export version starts with the variants just exported; every other variant of the
current export is carried over as it was: its file copied byte for byte (checked against the
manifest's sha256 first), its model.json entry and its metrics.json figures and thresholds
unchanged. Only an export made from the current QAT model is carried (a new `pipeline
quantize` makes the old export stale: its files belong to another model).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.heads.schema import Heads
from pipeline.core.io import read_json, write_json
from pipeline.rundir.runs import RunDir
from pipeline.modelfile.spec import model_spec
from pipeline.modelfile.variants import BY_KEY, DEFAULT, REFERENCE, VARIANTS


def carry_over(previous: RunDir, out_dir: Path, heads: Heads, image_size: int,
               metrics: dict) -> list[str]:
    """Copy the previous export's variants that `out_dir` lacks; merge model.json and
    metrics.json (registry order). Returns the keys carried over."""
    if not previous.has("export"):
        return []
    old_spec = read_json(previous.file("export", "model.json"))
    old_metrics = read_json(previous.file("export", "metrics.json"))
    spec = read_json(out_dir / "model.json")
    kept = [k for k in old_spec["variants"] if k not in spec["variants"] and k in BY_KEY]
    for key in kept:
        name = old_spec["variants"][key]["file"]
        shutil.copyfile(previous.file("export", name), out_dir / name)
    order = [v.key for v in VARIANTS]
    merged = {k: spec["variants"].get(k) or old_spec["variants"][k] for k in order
              if k in spec["variants"] or k in kept}
    write_json(out_dir / "model.json", model_spec(heads, image_size, merged))
    for part in ("variants", "thresholds"):
        both = {**old_metrics.get(part, {}), **metrics.get(part, {})}
        metrics[part] = {k: both[k] for k in order if k in merged and k in both}
    sizes = {k: v["size_bytes"] for k, v in merged.items()}
    metrics["size_ratio_int8_to_float32"] = (sizes[DEFAULT] / sizes[REFERENCE]
                                             if {DEFAULT, REFERENCE} <= set(sizes) else None)
    write_json(out_dir / "metrics.json", metrics)
    return kept
