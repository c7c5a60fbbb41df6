"""`pipeline web`: the static phone page of a run, built whole or not at all.

    OUT/index.html, app.js, style.css    the page (pipeline/web/static)
    OUT/mediapipe/                       MediaPipe Tasks for the web: its ES module and wasm,
                                         copied from the pinned npm package (`make web-deps`)
    OUT/models/model_<variant>.tflite    the run's exported files, byte for byte
    OUT/site.json                        which variants, their files, sha256 and the export id;
                                         each head's kind (and a regression head's unit)

The page learns heads, labels, normalization and the "not sure" thresholds from each .tflite's
own metadata (MediaPipe Tasks reads them), so site.json names files and kinds, never classes.
MediaPipe's ImageClassifier reads every kind's output as scores: a classification head's top
class (or none: not sure), a multilabel head's classes at or above its threshold, and a
regression head's one output as the score of its one nameless category (the number itself:
the model outputs it in its unit); the page shows each as its kind says. The site is
built in a temporary folder beside OUT and renamed into place: a reader of OUT sees the old
site or the new one. Nothing in it is fetched from another host at run time.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import spec_heads
from pipeline.core.io import read_json, sha256, write_json
from pipeline.rundir.runs import RunDir

STATIC = Path(__file__).parent / "static"
PAGE_FILES = ("index.html", "app.js", "style.css")
MARKER = "site.json"
MEDIAPIPE = "@mediapipe/tasks-vision"
# What the page loads of the package: its ES module bundle and the wasm it picks from (with or
# without SIMD, chosen by MediaPipe's FilesetResolver from what the browser supports).
MEDIAPIPE_FILES = ("package.json", "vision_bundle.mjs", "wasm/vision_wasm_internal.js",
                   "wasm/vision_wasm_internal.wasm", "wasm/vision_wasm_nosimd_internal.js",
                   "wasm/vision_wasm_nosimd_internal.wasm")
INSTALL = "make web-deps"


def node_modules() -> Path:
    """Where the pinned npm packages are: $PIPELINE_WEB_MODULES, else pipeline/web/node_modules
    (what `make web-deps`, i.e. `npm ci --prefix pipeline/web`, installs)."""
    return Path(os.environ.get("PIPELINE_WEB_MODULES") or Path(__file__).parent / "node_modules")


def mediapipe_dir() -> Path:
    folder = node_modules() / MEDIAPIPE
    absent = [name for name in MEDIAPIPE_FILES if not (folder / name).is_file()]
    if absent:
        raise PipelineError(f"{folder}: the page's JavaScript is not installed ({absent[0]} "
                            f"missing); run `{INSTALL}` (npm ci in pipeline/web) first")
    return folder


def head_kinds(spec: dict, source: str) -> list[dict]:
    """What the page needs of each head beyond the file's metadata: its kind (and unit)."""
    return [{"name": h.name, "kind": h.kind, **h.impl.shown(h)}
            for h in spec_heads(spec, source)]


def chosen_variants(rd: RunDir, names: list[str] | None) -> tuple[list[dict], dict]:
    """(each head's kind, {variant: its entry}) for the variants asked for, in that order; by
    default the export's default variant and its float reference (model.json names both). A
    damaged heads table stops the build in one line."""
    rd.require("export")
    where = rd.file("export", "model.json")
    spec = read_json(where)
    kinds = head_kinds(spec, str(where))
    have = spec.get("variants") or {}
    wanted = [spec.get("default"), spec.get("reference")]
    names = list(names or [n for n in wanted if n in have] or have)
    for name in names:
        if name not in have:
            raise PipelineError(f"{rd.root / 'export' / 'model.json'}: no variant '{name}' "
                                f"(has: {', '.join(have) or 'none'})")
    return kinds, {name: have[name] for name in dict.fromkeys(names)}


def build(run: Path, out: Path, variants: list[str] | None = None) -> Path:
    """Write the site of `run` into `out` (replacing a site built before); returns `out`."""
    rd = RunDir(run)
    if not rd.root.is_dir():
        raise PipelineError(f"{rd.root}: no such run directory")
    rd = rd.snapshot()
    heads, chosen = chosen_variants(rd, variants)
    mediapipe = mediapipe_dir()
    out = Path(out)
    if out.exists() and not (out / MARKER).is_file():
        raise PipelineError(f"{out}: exists and is not a site `pipeline web` made; give "
                            "another --out (nothing was written)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o755)
        _fill(tmp, rd, chosen, heads, mediapipe)
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _fill(folder: Path, rd: RunDir, chosen: dict, heads: list[dict], mediapipe: Path) -> None:
    for name in PAGE_FILES:
        shutil.copyfile(STATIC / name, folder / name)
    for name in MEDIAPIPE_FILES[1:]:
        (folder / "mediapipe" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mediapipe / name, folder / "mediapipe" / name)
    (folder / "models").mkdir()
    listed = []
    for key, entry in chosen.items():
        source = rd.file("export", entry["file"])  # checked against the manifest's sha256
        target = folder / "models" / Path(entry["file"]).name
        shutil.copyfile(source, target)
        listed.append({"key": key, "file": f"models/{target.name}", "sha256": sha256(target),
                       "bytes": target.stat().st_size,
                       "input": {k: entry.get("input", {}).get(k) for k in ("shape", "dtype")}})
    version = read_json(mediapipe / "package.json").get("version")
    write_json(folder / MARKER, {"run": rd.name, "export_id": rd.entry("export").get("id"),
                                 "variants": listed, "heads": heads,
                                 "runtime": f"{MEDIAPIPE} {version}"})


def _swap(tmp: Path, out: Path) -> None:
    """Rename the new site into place; an old one goes aside first, then away."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = out.parent / f".{out.name}.old.tmp"
    shutil.rmtree(old, ignore_errors=True)
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def current(site: Path, run: Path, variants: list[str] | None) -> bool:
    """True when `site` was built from the run's current export with these variants, by this
    version of the page (a pipeline upgraded since rebuilds it)."""
    try:
        made = read_json(site / MARKER)
        rd = RunDir(run).snapshot()
        keys = [v["key"] for v in made["variants"]]
        return (made.get("export_id") == (rd.entry("export") or {}).get("id")
                and (variants is None or keys == list(dict.fromkeys(variants)))
                and all((site / v["file"]).is_file() for v in made["variants"])
                and all((site / n).read_bytes() == (STATIC / n).read_bytes() for n in PAGE_FILES))
    except (PipelineError, KeyError, TypeError, OSError):
        return False
