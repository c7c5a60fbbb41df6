"""The backbone extension point (issue 20): a new backbone is one module (here, this file's few
convs) and one registry entry; train -> quantize (QAT, export) -> predict then run with no
other edit, and the model file names the network it came from."""
import pytest

from helpers_runs import write_tiny_dataset
from pipeline import api
from pipeline.core.errors import PipelineError
from pipeline.core.tfcompat import keras
from pipeline.modelfile import model_info
from pipeline.training import backbones
from pipeline.training.backbones import Backbone, logits_layer


def _conv(x, filters: int, name: str, batchnorm: bool, strides: int = 1):
    k = keras()
    x = k.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=not batchnorm,
                        name=f"{name}_conv")(x)
    if batchnorm:
        x = k.layers.BatchNormalization(name=f"{name}_bn")(x)
    return k.layers.ReLU(name=f"{name}_relu")(x)


def tiny_trunk(image, batchnorm: bool):
    return _conv(_conv(image, 8, "stem", batchnorm, strides=2), 16, "body", batchnorm, strides=2)


def tiny_branch(x, name: str, units: int, dropout: float, batchnorm: bool):
    k = keras()
    x = _conv(x, 16, f"{name}_own", batchnorm)
    x = k.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = k.layers.Conv2D(units, 1, name=logits_layer(name))(x)
    return k.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)


TINY = Backbone(name="tiny-test", title="tiny test CNN", trunk=tiny_trunk, branch=tiny_branch,
                batchnorm=lambda source: False)  # its own layer policy, not SqueezeNet's


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(backbones.BACKBONES, TINY.name, TINY)


def test_a_new_backbone_goes_through_every_stage_by_one_registry_entry(tmp_path, registered):
    data = write_tiny_dataset(tmp_path / "data", per_class=3)
    run = api.train(data, tmp_path / "run", arch=TINY.name, image_size=32, epochs=3,
                    batch_size=12)
    assert run.stage_metrics("train")  # trained, with its metrics written
    api.quantize(run, epochs=1, lr=1e-4)
    info = model_info.read(run.model_file("int8"))
    assert info.about["name"] == "multi-task tiny test CNN (flower_type, flower_color)"
    answers = api.predict(run, [data / "images" / "rose_red_0.png"])
    predictions = answers[0]["predictions"]
    assert set(predictions) == {"flower_type", "flower_color"}
    assert all(0.0 <= s <= 1.0 for p in predictions.values() for s in p["probabilities"].values())


def test_a_head_named_like_a_trunk_layer_is_refused(tmp_path, registered):
    data = write_tiny_dataset(tmp_path / "data")
    (data / "heads.json").write_text(
        '{"heads": [{"name": "stem", "short": "type", "classes": ["rose", "daisy"]},'
        ' {"name": "flower_color", "short": "color", "classes": ["red", "pink", "white"]}]}')
    with pytest.raises(PipelineError, match="head name 'stem' clashes with tiny-test's layer"):
        api.train(data, tmp_path / "run", arch=TINY.name, image_size=32, epochs=1)
    assert not (tmp_path / "run" / "manifest.json").exists()  # no stage published
    assert not (tmp_path / "run" / "train").exists()
