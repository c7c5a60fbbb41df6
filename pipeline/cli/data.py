"""`pipeline data ...`: make, check, split and pack label files (one thin command each)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pipeline.cli.common import DECODERS, _csv, friendly

data_app = typer.Typer(no_args_is_help=True, help="Make, check and split label files.")


@data_app.command("synth")
@friendly
def data_synth(out: Path = typer.Option(..., help="Output folder for images/ and all.txt."),
               count: int = typer.Option(3200, min=6, help="Number of images."),
               size: int = typer.Option(224, min=32, help="Image side in pixels."),
               seed: int = typer.Option(0, help="Random seed (same seed, same bytes)."),
               workers: Optional[int] = typer.Option(None, min=1, help="Processes (default: all cores)."),
               with_background: bool = typer.Option(
                   False, "--with-background",
                   help="Add a third head: the background each flower was drawn on "
                        "(foliage, soil, sky, garden).")):
    """Make procedural rose/daisy images in red, pink and white, with a label file."""
    from pipeline.data import synth
    synth.run(out=out, count=count, size=size, seed=seed, workers=workers,
              with_background=with_background)


@data_app.command("from-folders")
@friendly
def data_from_folders(root: Path = typer.Argument(..., help="Folder of <a>_<b>/, <a>/<b>/ or <a>/ "
                                                                "class folders."),
                      out: Path = typer.Option(..., help="Label file to write (heads.json "
                                                         "goes beside it)."),
                      heads: Optional[str] = typer.Option(
                          None, help="Your own one or two head names, e.g. kind,make: classes "
                                     "come from the folder names. Default: the flower heads.")):
    """Turn photos sorted into folders named after their classes into a label file."""
    from pipeline.data import folders
    folders.from_folders(root, out, _csv(heads))


@data_app.command("split")
@friendly
def data_split(labels: Path = typer.Argument(..., help="Label file with every image."),
               out: Path = typer.Option(..., help="Folder for train.txt, val.txt, test.txt."),
               ratios: str = typer.Option("0.6,0.25,0.15", help="train,val,test fractions."),
               seed: int = typer.Option(0, help="Shuffle seed."),
               force: bool = typer.Option(False, "--force", help="Overwrite existing split files."),
               negatives: Path = typer.Option(None, help="`path, kind` file of photos that are "
                                              "no class of any head (teach \"not sure\"); "
                                              "split the same way into negatives_<split>.txt."),
               none: str = typer.Option(None, help="Heads whose -1 means \"none of these "
                                        "classes\" (not \"unknown\"), e.g. color; recorded "
                                        "in heads.json.")):
    """Split a label file 60/25/15, stratified over (type, colour)."""
    from pipeline.data import prepare
    prepare.split(labels, out, ratios, seed, force, negatives, _csv(none))


@data_app.command("pack")
@friendly
def data_pack(labels: Path = typer.Argument(..., help="A split folder (train.txt, val.txt, "
                                                       "test.txt) or one label file."),
              out: Path = typer.Option(..., help="Output folder. A split folder becomes "
                                                 "OUT/train, OUT/val, OUT/test plus the label "
                                                 "files: give OUT to `pipeline train --data`."),
              size: int = typer.Option(..., min=32, help="Image side in pixels: the "
                                                         "--image-size you will train at."),
              shard_mb: float = typer.Option(100, help="Approximate size of one shard file "
                                                       "(MB)."),
              workers: Optional[int] = typer.Option(None, min=1, help=DECODERS)):
    """Decode and resize every image once into sharded TFRecords, for training on data
    larger than memory. Resumable: a re-run keeps the finished shards."""
    from pipeline.data import pack
    pack.run(labels=labels, out=out, size=size, shard_mb=shard_mb, workers=workers)


@data_app.command("check")
@friendly
def data_check(labels: Path = typer.Argument(..., help="Label file to validate.")):
    """Validate a label file and every image in it; change nothing."""
    from pipeline.data import prepare
    if not prepare.check(labels):
        raise typer.Exit(1)


# ---- model stages -------------------------------------------------------------------------
