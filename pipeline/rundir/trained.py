"""`TrainedRun`: everything a later stage needs from a finished train stage, read once.

quantize, export, benchmark, evaluate and report read the model's architecture, input size,
normalization, heads, the data's schema and the data folder from here, never from a repeated
command-line flag or from the training code (no TensorFlow until `load_keras`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.core.config import ModelConfig, TrainSettings
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import FLOWER_HEADS, Heads, parse_schema, schema_of
from pipeline.core.io import read_json
from pipeline.rundir.runs import RunDir

CONFIG_FILE = "model_config.json"


@dataclass
class TrainedRun:
    run: RunDir
    config: ModelConfig
    settings: TrainSettings
    schema: Heads  # the columns of the training data's label files
    heads: Heads  # the model's heads: a selection of the schema
    extra: dict  # model_config.json as written (mode, loss weights, ...)

    @classmethod
    def open(cls, run_dir: Path | str) -> "TrainedRun":
        """The current train stage, every file resolved through one snapshot of the manifest
        and checked against its sha256 (a retrain meanwhile cannot mix two trainings)."""
        run = RunDir(run_dir).snapshot()
        config_file = run.file("train", CONFIG_FILE)
        saved = read_json(config_file)
        settings = TrainSettings.from_json(run.stage_entry("train").get("settings", {}))
        try:  # a hand-edited or damaged file: one line naming it, not a traceback
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
            schema = _recorded_schema(saved, settings, config_file)
            heads = schema.select(saved.get("heads"))
            config = ModelConfig.from_json(saved)
        except (ValueError, TypeError) as exc:
            raise PipelineError(f"{config_file}: {exc}") from None
        return cls(run, config, settings, schema, heads, saved)

    @property
    def model_path(self) -> Path:
        return self.run.file("train", "model.h5")

    @property
    def data(self) -> Path:
        if not self.settings.data:
            raise PipelineError(f"{self.run.root}: the train stage recorded no data folder")
        return Path(self.settings.data)

    def load_keras(self):
        from pipeline.core.tfcompat import keras

        return keras().models.load_model(self.model_path, compile=False)


def _recorded_schema(saved: dict, settings: TrainSettings, source: Path) -> Heads:
    if "schema" in saved:
        return parse_schema(saved["schema"], str(source))
    # Runs from before the schema was recorded: the data folder's, else the flowers.
    if settings.data and Path(settings.data).is_dir():
        return schema_of(Path(settings.data) / "train.txt")
    return FLOWER_HEADS
