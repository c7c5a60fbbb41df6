"""`pipeline export`: the export stage again, from the run's trained and QAT models, without
training: new not-sure thresholds (`--threshold type=0.8`, `--coverage`), a re-export after
a change of the exporter, or only some registered variants (`--variants float32,int8`: those
are exported again, every other variant of the current export is kept byte for byte).
Writes export/ as `pipeline quantize` does, through the same checks.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.options import ExportOptions
from pipeline.rundir.runs import RunDir
from pipeline.rundir.trained import TrainedRun


def load_qat(path: Path):
    """The QAT Keras model saved by `pipeline quantize` (.h5 loads inside quantize_scope)."""
    import tensorflow_model_optimization as tfmot

    from pipeline.core.tfcompat import keras

    with tfmot.quantization.keras.quantize_scope():
        return keras().models.load_model(path, compile=False)


def run(o: ExportOptions) -> dict:
    """The registry's variants named in o.variants (None: all); an unknown one stops before
    anything."""
    from pipeline.modelfile.variants import select

    chosen = select(o.variants)
    rd = RunDir(o.run)
    rd.require("qat")
    with rd.writing():
        # Named variants are re-exported and the others kept as they are (export/carry.py).
        keep = rd.snapshot() if o.variants is not None else None
        return _run(rd, o, chosen, keep)


def _run(rd: RunDir, rules: ExportOptions, variants, keep: RunDir | None = None) -> dict:
    from pipeline.data.sources import open_source
    from pipeline.export.quantize import (calibration_positions, contract_of, export_stage,
                                          not_sure_options)

    trained = TrainedRun.open(rd.root)
    config, heads = trained.config, trained.heads
    not_sure = not_sure_options(heads, rules)
    source = open_source(trained.data, trained.settings.input, config, trained.schema, heads)
    qat_file = rd.snapshot().file("qat", "model.h5")  # checked against its sha256
    model, qat = trained.load_keras(), load_qat(qat_file)
    arrays = {name: source.arrays(name) for name in ("val", "test")}
    calibration = source.pixels_at("train", calibration_positions(source.count("train")))
    return export_stage(rd, model, qat, contract_of(trained), calibration, arrays, not_sure,
                        variants, keep)
