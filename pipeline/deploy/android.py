"""`pipeline android`: put one exported variant and its model.json into the demo app's assets.

The app loads the variant named by model.json's "default", so the copied model.json gets
"default" set to the variant shipped; older .tflite files are removed from the assets so the
APK never carries a model its spec does not point at. The assets are git-ignored.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.runs import read_json, write_json
from pipeline.deploy.runtime import SPEC_FILE, resolve_model

APP_ASSETS = Path("android_demo") / "app" / "src" / "main" / "assets"


def find_assets(start: Path | None = None) -> Path:
    """The demo app's assets folder in the repository holding `start` (default: the current
    folder): found from where the user works, not from where the package is installed."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "android_demo" / "app").is_dir():
            return folder / APP_ASSETS
    raise PipelineError(f"no android_demo/ app in {start} or any folder above it; run from the "
                        "repository or pass --assets")


def _atomic_copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".partial")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def run(run: Path, variant: str = "int8", assets: Path | None = None) -> list[Path]:
    """Copy `variant`'s .tflite and model.json from `run`/export into the assets folder."""
    assets = Path(assets) if assets else find_assets()
    tflite = resolve_model(Path(run), variant)
    if not tflite.is_file():
        raise PipelineError(f"{tflite}: listed in {SPEC_FILE} but missing; re-run the export")
    spec = read_json(tflite.parent / SPEC_FILE)
    spec["default"] = variant
    assets.mkdir(parents=True, exist_ok=True)
    for stale in assets.glob("*.tflite"):
        if stale.name != tflite.name:
            stale.unlink()
            print(f"removed {stale}")
    _atomic_copy(tflite, assets / tflite.name)
    write_json(assets / SPEC_FILE, spec)
    copied = [assets / tflite.name, assets / SPEC_FILE]
    print(f"copied {tflite} ({tflite.stat().st_size / 1e6:.2f} MB) -> {copied[0]}")
    print(f"copied {tflite.parent / SPEC_FILE} -> {copied[1]} (default variant: {variant})")
    return copied
