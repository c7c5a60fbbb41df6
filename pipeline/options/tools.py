"""The options of the commands around the model stages: making and checking data
(`pipeline data ...`), reading a model file (inspect), shipping it (android) and the phone
page (web, serve). Same rules as the stages' classes (options/base.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pipeline.core.config import MIN_IMAGE_SIZE
from pipeline.modelfile.variants import DEFAULT as DEFAULT_VARIANT
from pipeline.options.base import DECODERS, StageOptions, option


@dataclass(kw_only=True)
class SynthOptions(StageOptions):
    """Make procedural rose/daisy images in red, pink and white, with a label file."""
    stage, module = "data synth", "pipeline.data.synth"
    out: Path = option(help="Output folder for images/ and all.txt.")
    count: int = option(3200, "Number of images.", min=6)
    size: int = option(224, "Image side in pixels.", min=MIN_IMAGE_SIZE)
    seed: int = option(0, "Random seed (same seed, same bytes).")
    workers: Optional[int] = option(None, "Processes (default: all cores).", min=1)
    with_background: bool = option(False, "Add a third head: the background each flower was "
                                          "drawn on (foliage, soil, sky, garden).")


@dataclass(kw_only=True)
class FromFoldersOptions(StageOptions):
    """Turn photos sorted into folders named after their classes into a label file."""
    stage, module = "data from-folders", "pipeline.data.from_folders"
    root: Path = option(help="Folder of <a>_<b>/, <a>/<b>/ or <a>/ class folders.",
                        argument=True)
    out: Path = option(help="Label file to write (heads.json goes beside it).")
    heads: Optional[list[str]] = option(
        None, "Your own one or two head names, e.g. kind,make: classes come from the folder "
              "names. Default: the flower heads.", csv=True)


@dataclass(kw_only=True)
class SplitOptions(StageOptions):
    """Split a label file 60/25/15, stratified over (type, colour)."""
    stage, module = "data split", "pipeline.data.split"
    labels: Path = option(help="Label file with every image.", argument=True)
    out: Path = option(help="Folder for train.txt, val.txt, test.txt.")
    ratios: str = option("0.6,0.25,0.15", "train,val,test fractions.")
    seed: int = option(0, "Shuffle seed.")
    force: bool = option(False, "Overwrite existing split files.")
    negatives: Optional[Path] = option(
        None, "`path, kind` file of photos that are no class of any head (teach \"not sure\"); "
              "split the same way into negatives_<split>.txt.")
    none: Optional[list[str]] = option(
        None, "Heads whose -1 means \"none of these classes\" (not \"unknown\"), e.g. color; "
              "recorded in heads.json.", csv=True)


@dataclass(kw_only=True)
class PackOptions(StageOptions):
    """Decode and resize every image once into sharded TFRecords (resumable, for big data)."""
    stage, module = "data pack", "pipeline.data.pack"
    labels: Path = option(help="A split folder (train.txt, val.txt, test.txt) or one label "
                               "file.", argument=True)
    out: Path = option(help="Output folder. A split folder becomes OUT/train, OUT/val, "
                            "OUT/test plus the label files: give OUT to `pipeline train "
                            "--data`.")
    size: int = option(help="Image side in pixels: the --image-size you will train at.",
                       min=MIN_IMAGE_SIZE)
    shard_mb: float = option(100.0, "Approximate size of one shard file (MB).", above=0)
    workers: Optional[int] = option(None, DECODERS, min=1)


@dataclass(kw_only=True)
class CheckOptions(StageOptions):
    """Validate a label file and every image in it; change nothing."""
    stage, module = "data check", "pipeline.data.check"
    labels: Path = option(help="Label file to validate.", argument=True)

    @staticmethod
    def failed(result) -> bool:
        return not result  # check found an error (each problem printed)


@dataclass(kw_only=True)
class InspectOptions(StageOptions):
    """Metadata, inputs, outputs, signatures, op counts and size of a .tflite (no TensorFlow)."""
    stage, module = "inspect", "pipeline.deploy.inspect"
    model: Path = option(help="A .tflite file (or a run directory).", argument=True)
    json_output: bool = option(False, "Print JSON.", flag="--json")


@dataclass(kw_only=True)
class AndroidOptions(StageOptions):
    """Copy one self-describing .tflite into the Android demo's assets (as model.tflite)."""
    stage, module = "android", "pipeline.deploy.android"
    run: Path = option(help="Run directory with an export, or a .tflite.")
    variant: str = option(DEFAULT_VARIANT, "Which exported variant of the run to ship.",
                          choices="variants")
    assets: Optional[Path] = option(
        None, "Assets folder (default: android_demo/app/src/main/assets of the repository "
              "holding the current folder).")


@dataclass(kw_only=True)
class WebOptions(StageOptions):
    """A static page that runs the exported .tflite in a phone's browser, offline."""
    stage, module = "web", "pipeline.web.web"
    run: Path = option(help="Run directory with an export.")
    out: Path = option(help="Folder for the static site (replaced if `pipeline web` made it "
                            "before).")
    variants: Optional[list[str]] = option(
        None, "Exported variants to include; the first is the default (default: the export's "
              "default variant and its float reference, int8,float32).", csv=True)


@dataclass(kw_only=True)
class ServeOptions(StageOptions):
    """Serve the phone page and record the device benchmarks it posts (docs/web.md)."""
    stage, module = "serve", "pipeline.web.serve"
    run: Path = option(help="Run directory with an export.")
    host: str = option("127.0.0.1", "Address to listen on; 0.0.0.0 lets phones on your LAN "
                                    "reach it.")
    port: int = option(8000, "0: any free port.", min=0, max=65535)
    tls: bool = option(False, "HTTPS with a self-signed certificate (made once, kept beside "
                              "the site): phones give the camera to https pages only.")
    site: Optional[Path] = option(None, "Site folder (default: RUN/web, rebuilt when the "
                                        "export changed).")
    variants: Optional[list[str]] = option(None, "As for `pipeline web`.", csv=True)
    verbose: bool = option(False, "Log every request.")
