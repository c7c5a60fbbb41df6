"""Tiny run directories for tests: a few 32 px flower drawings, a trained and an exported run.

A plain module (not conftest.py) so any test file can `from helpers_runs import ...`.
`make_tiny_exported_run(tmp_path)` gives a run with train/, qat/ and export/ (every
variant's .tflite file and model.json) in well under a minute; the exported run is built once per
test session (shared by pytest-xdist's workers) and copied, because the TFLite conversions
dominate the cost.

The data is deliberately trivial (a disc or a ring of petals, in red, pink or white, on green)
and the test split is the training split: these runs check plumbing, not generalization.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageDraw

from pipeline.heads.schema import FLOWER_HEADS, Heads
from pipeline.data.labels import Sample, write_label_file
from pipeline.rundir.runs import RunDir
from pipeline.core.io import write_json

SIZE = 32
COLOURS = {"red": (215, 25, 35), "pink": (245, 150, 190), "white": (250, 250, 250)}
_CACHE: dict[str, Path] = {}


def draw_flower(kind: str, colour: str, shift: int = 0, size: int = SIZE) -> Image.Image:
    """A rose is a filled disc, a daisy a ring of petals around a yellow centre."""
    img = Image.new("RGB", (size, size), (40, 110 + 4 * shift, 40))
    draw, c, rgb = ImageDraw.Draw(img), size // 2 + shift, COLOURS[colour]
    r = size // 3
    if kind == "rose":
        draw.ellipse([c - r, c - r, c + r, c + r], fill=rgb)
    else:
        for dx, dy in ((0, -1), (1, 0), (0, 1), (-1, 0), (1, 1), (-1, -1), (1, -1), (-1, 1)):
            x, y = c + dx * r * 2 // 3, c + dy * r * 2 // 3
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=rgb)
        draw.ellipse([c - 3, c - 3, c + 3, c + 3], fill=(240, 200, 20))
    return img


def write_tiny_dataset(folder: Path, per_class: int = 2) -> Path:
    """images/ + all.txt, train.txt, val.txt, test.txt (the flower label format); the folder."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    type_head, colour_head = FLOWER_HEADS.heads
    samples = []
    for t, kind in enumerate(type_head.classes):
        for c, colour in enumerate(colour_head.classes):
            for i in range(per_class):
                path = folder / "images" / f"{kind}_{colour}_{i}.png"
                draw_flower(kind, colour, shift=i).save(path)
                samples.append(Sample(path, (t, c)))
    for name in ("all", "train", "test"):
        write_label_file(folder / f"{name}.txt", samples)
    write_label_file(folder / "val.txt", samples[::2])
    return folder


def train_tiny_model(config, heads: Heads, data: Path, epochs: int):
    """A real (short) fit with the training engineer's masked multi-task trainer."""
    from pipeline.data.datasets import make_dataset
    from pipeline.training.fitting import faster_batchnorm_statistics
    from pipeline.data.labels import load_label_file
    from pipeline.training.model import build_model
    from pipeline.training.multitask import MultiTask
    from pipeline.training.optimizer import build_optimizer

    model = build_model(config, heads)
    # One full batch per step: with momentum 0 the inference statistics equal the training
    # ones at once; then back to what `pipeline train` saves, for the QAT fine-tuning.
    faster_batchnorm_statistics(model, momentum=0.0)
    samples = load_label_file(data / "train.txt")
    dataset = make_dataset(samples, config, heads, batch_size=len(samples), training=False)
    trainer = MultiTask(model, heads)
    trainer.prepare(build_optimizer(3e-3, epochs))
    trainer.fit(dataset, epochs=epochs, verbose=0)
    faster_batchnorm_statistics(model)
    return model


def make_tiny_trained_run(root: Path, heads: Heads = FLOWER_HEADS, epochs: int = 20) -> RunDir:
    """A run with a finished train/ stage in the train stage's contract (model.h5 etc.).

    `heads`: the trained heads, any subset or order of the flower heads (label files keep
    the flower columns, as `pipeline train` reads them).
    """
    from pipeline.training.checkpoints import save_h5
    from pipeline.training.model import ModelConfig

    root = Path(root)
    data = write_tiny_dataset(root.parent / f"{root.name}_data")
    config = ModelConfig(image_size=SIZE, dropout=0.0)
    model = train_tiny_model(config, heads, data, epochs)
    run = RunDir(root)
    run.write_heads(heads)
    weights = {h.name: 1.0 for h in heads}
    settings = {"data": str(data.absolute()), "image_size": SIZE, "epochs": epochs,
                "batch_size": 12, "mode": "joint", "loss_weights": weights,
                "weighting": "fixed", "tasks": heads.names, "seed": 0}
    with run.stage("train", settings) as stage:
        save_h5(model, stage.dir / "model.h5")
        write_json(stage.dir / "model_config.json",
                   {**config.to_json(), "heads": heads.names, "mode": "joint",
                    "loss_weights": weights, "weighting": "fixed"})
    return run


def make_tiny_exported_run(tmp_path: Path, heads: Heads = FLOWER_HEADS) -> RunDir:
    """A run with train/, qat/ and export/, copied from one built per head set: once per
    pytest process, or once per session when pytest-xdist runs several (they share it)."""
    key = ",".join(heads.names)
    if key not in _CACHE:
        _CACHE[key] = _built_once(key, heads)
    target = Path(tmp_path) / "run"
    shutil.copytree(_CACHE[key], target, symlinks=True)  # stage links stay links
    _fix_data_path(_CACHE[key], target)
    return RunDir(target)


def _built_once(key: str, heads: Heads) -> Path:
    """The exported run of `heads`, built by whichever worker of this session asks first while
    the others wait on a lock (pytest-xdist names the session in PYTEST_XDIST_TESTRUNUID)."""
    import fcntl
    import hashlib
    import os
    import tempfile

    from pipeline import api

    session = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    shared = Path(tempfile.gettempdir()) / f"tiny_runs_{session}"
    shared.mkdir(exist_ok=True)
    base = shared / f"run_{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    with open(shared / f"{base.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (shared / f"{base.name}.done").exists():
            shutil.rmtree(base, ignore_errors=True)  # a build that died half-way
            shutil.rmtree(shared / f"{base.name}_data", ignore_errors=True)
            api.quantize(make_tiny_trained_run(base, heads).root, epochs=1, lr=1e-4)
            (shared / f"{base.name}.done").touch()
    return base


def _fix_data_path(source: Path, target: Path) -> None:
    """The copy reads the same tiny data folder (absolute path in the manifest): copy it too."""
    shutil.copytree(source.parent / f"{source.name}_data", target.parent / f"{target.name}_data")
    manifest = RunDir(target).manifest()
    manifest["stages"]["train"]["settings"]["data"] = str(
        (target.parent / f"{target.name}_data").absolute())
    write_json(target / "manifest.json", manifest)


def restamp(run: RunDir, stage: str) -> None:
    """Record a stage's files as they are now, as if the stage had made them so: for tests
    that edit a published stage on purpose (the manifest's sha256 would refuse it otherwise)."""
    from pipeline.rundir.publish import hash_outputs

    manifest = run.manifest()
    manifest["stages"][stage]["outputs"] = hash_outputs(run.path(stage), stage)
    write_json(run.manifest_path, manifest)


# ---- a tiny model with known answers (no training, converts in seconds) -------------------

def make_known_model(heads: Heads, size: int = 8):
    """Head i's class c scores the mean of colour channel (i + c) % 3, times 20.

    With solid-colour images the answers are known in advance: for the first head of two
    classes, a red image is class 0 and a green one class 1. Different heads look at
    different channels, so outputs read under the wrong name give wrong answers.
    """
    import numpy as np

    from pipeline.core.tfcompat import keras

    k = keras()
    image = k.Input((size, size, 3), name="image")
    pooled = k.layers.GlobalAveragePooling2D(name="pool")(image)
    outputs = {}
    for i, head in enumerate(heads):
        dense = k.layers.Dense(head.num_classes, activation="softmax", name=head.name)
        outputs[head.name] = dense(pooled)
        kernel = np.zeros((3, head.num_classes), np.float32)
        for c in range(head.num_classes):
            kernel[(i + c) % 3, c] = 20.0
        dense.set_weights([kernel, np.zeros(head.num_classes, np.float32)])
    return k.Model(image, outputs)


def known_answer(heads: Heads, rgb: tuple[int, int, int]) -> tuple[int, ...]:
    """What make_known_model predicts for a solid image of colour `rgb` (argmax, per head)."""
    return tuple(max(range(h.num_classes), key=lambda c, i=i: rgb[(i + c) % 3])
                 for i, h in enumerate(heads))


def solid_images(size: int = 8):
    """uint8 [6, size, size, 3]: red, green, blue, black, white, yellowish (full 0..255 range)."""
    import numpy as np

    colours = [(230, 10, 10), (10, 230, 10), (10, 10, 230), (0, 0, 0), (255, 255, 255),
               (200, 190, 20)]
    return np.stack([np.full((size, size, 3), c, np.uint8) for c in colours])


def export_known_model(folder: Path, heads: Heads, size: int = 8, variants=None) -> dict:
    """The known model converted into folder with its model.json, as the registry's variants
    (default: all; every one from the known model: a QAT variant is full-integer PTQ here)."""
    from pipeline.export import convert as export
    from pipeline.export import writer as stage
    from pipeline.modelfile.variants import BY_KEY
    from pipeline.core.config import DEFAULT_NORMALIZATION
    from pipeline.modelfile.contract import Contract

    model = make_known_model(heads, size)
    calibration = solid_images(size)
    contents = {key: export.convert(model, heads, size, BY_KEY[key].conversion, calibration)
                for key in variants or BY_KEY}
    Path(folder).mkdir(parents=True, exist_ok=True)
    return stage.write_variants(folder, contents, Contract(heads, size, DEFAULT_NORMALIZATION))


def strip_metadata(path: Path) -> Path:
    """Rewrite a .tflite without its TFLITE_METADATA entry and associated files, as a file
    from another tool (or an older export) would be; the graph and tensors stay as they are."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    path = Path(path)
    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    for entry in model.metadata or []:
        if entry.name == b"TFLITE_METADATA":
            model.buffers[entry.buffer].data = None  # keep the indices of the others
    model.metadata = [m for m in model.metadata or [] if m.name != b"TFLITE_METADATA"]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path
