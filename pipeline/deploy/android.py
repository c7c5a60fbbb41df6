"""`pipeline android`: put one self-describing .tflite into the demo app's assets.

The app reads heads, labels, normalization and input spec from the model file itself (the
model.json packed in its metadata's associated files), so the one file is all it needs. It is
copied as `model.tflite`; other .tflite files and an old model.json are removed from the
assets so the APK never carries a model it does not use. The assets are git-ignored.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import spec_heads
from pipeline.core.io import atomic_copy
from pipeline.modelfile import model_info
from pipeline.modelfile.runtime import SPEC_FILE, resolve_model
from pipeline.modelfile.variants import DEFAULT

APP_ASSETS = Path("android_demo") / "app" / "src" / "main" / "assets"
ASSET_NAME = "model.tflite"  # the name FlowerClassifier.kt opens


def find_assets(start: Path | None = None) -> Path:
    """The demo app's assets folder in the repository holding `start` (default: the current
    folder): found from where the user works, not from where the package is installed."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "android_demo" / "app").is_dir():
            return folder / APP_ASSETS
    raise PipelineError(f"no android_demo/ app in {start} or any folder above it; run from the "
                        "repository or pass --assets")


def _checked(tflite: Path) -> model_info.ModelInfo:
    """The app needs the packed model.json: refuse a file without it before touching assets."""
    info = model_info.read(tflite)
    if not info.has_metadata or info.model_json is None:
        raise PipelineError(f"{tflite}: no TFLite metadata with a packed {SPEC_FILE}; the app "
                            "reads everything from the model file: re-export it with "
                            "`pipeline quantize`")
    return info


def ship(run: Path, variant: str = DEFAULT, assets: Path | None = None) -> list[Path]:
    """Copy `variant` of `run`/export (or `run` itself, a .tflite) into the assets folder."""
    assets = Path(assets) if assets else find_assets()
    tflite = resolve_model(Path(run), variant)
    info = _checked(tflite)
    spec_heads(info.model_json, str(tflite))  # heads of a kind the app reads, or one line
    assets.mkdir(parents=True, exist_ok=True)
    for stale in [*assets.glob("*.tflite"), assets / SPEC_FILE]:
        if stale.name != ASSET_NAME and stale.exists():
            stale.unlink()
            print(f"removed {stale}")
    target = assets / ASSET_NAME
    atomic_copy(tflite, target)
    shipped = info.model_json.get("default", "?")
    print(f"copied {tflite} ({tflite.stat().st_size / 1e6:.2f} MB, variant {shipped}, heads "
          f"{', '.join(info.labels)}) -> {target}")
    return [target]


def run(o) -> list[Path]:
    """`pipeline android` (options.AndroidOptions)."""
    return ship(o.run, o.variant, o.assets)
