"""The multi-head SqueezeNet: names and shapes, gradients everywhere, save/load round trip."""
import numpy as np
import pytest

from pipeline.heads.schema import FLOWER_HEADS
from pipeline.training.model import ModelConfig, build_model


@pytest.mark.parametrize("arch,tasks", [("squeezenet1.0", None), ("squeezenet1.1", None),
                                        ("squeezenet1.1", ["color"]), ("squeezenet1.0", ["type"])])
def test_output_names_and_shapes(arch, tasks):
    heads = FLOWER_HEADS.select(tasks)
    net = build_model(ModelConfig(arch=arch, image_size=48), heads)
    assert net.input_names == ["image"]
    assert net.input_shape == (None, 48, 48, 3)
    assert sorted(net.output_names) == sorted(heads.names)
    out = net(np.zeros((2, 48, 48, 3), np.float32), training=False)
    assert set(out) == set(heads.names)
    for head in heads:
        probs = np.asarray(out[head.name])
        assert probs.shape == (2, head.num_classes)
        # the head's classes of a softmax that also holds "none of these": 0 < sum < 1
        softmax = net.get_layer(f"{head.name}_softmax").output
        full = np.asarray(type(net)(net.inputs, softmax)(np.zeros((2, 48, 48, 3), np.float32)))
        assert full.shape == (2, head.num_classes + 1)
        np.testing.assert_allclose(probs, full[:, :-1], rtol=1e-6)
        assert np.all(probs.sum(axis=1) < 1)


def test_bad_config_is_refused():
    from pipeline.core.errors import PipelineError

    with pytest.raises(PipelineError, match="unknown arch"):
        build_model(ModelConfig(arch="squeezenet2"), FLOWER_HEADS)
    with pytest.raises(ValueError, match="too small"):
        ModelConfig(image_size=31)


@pytest.mark.parametrize("batchnorm", [True, False])
def test_layer_style_follows_the_config(batchnorm):
    net = build_model(ModelConfig(image_size=32, batchnorm=batchnorm), FLOWER_HEADS)
    has_bn = any(type(layer).__name__ == "BatchNormalization" for layer in net.layers)
    assert has_bn == batchnorm
    assert (net.get_layer("conv1_conv").bias is None) == batchnorm


def test_every_trainable_weight_gets_a_gradient_under_the_joint_loss():
    from pipeline.training.multitask import masked_cross_entropy
    from pipeline.core.tfcompat import tf

    t = tf()
    net = build_model(ModelConfig(image_size=32), FLOWER_HEADS)
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype(np.float32)
    y = {"flower_type": np.array([0, 1, 0, 1]), "flower_color": np.array([0, 1, 2, -1])}
    with t.GradientTape() as tape:
        out = net(x, training=True)
        loss = sum(masked_cross_entropy(y[name], out[name])[0] for name in y)
    grads = tape.gradient(loss, net.trainable_variables)
    dead = [v.name for v, g in zip(net.trainable_variables, grads)
            if g is None or not np.any(np.asarray(g))]
    assert not dead, f"no gradient for {dead}"


def test_save_load_round_trip_gives_equal_outputs(tmp_path):
    from pipeline.training.checkpoints import save_h5
    from pipeline.core.tfcompat import keras

    net = build_model(ModelConfig(arch="squeezenet1.0", image_size=32), FLOWER_HEADS)
    # Move BatchNorm statistics off their initial values so the round trip is not trivial.
    net(np.random.default_rng(1).normal(size=(4, 32, 32, 3)).astype(np.float32), training=True)
    save_h5(net, tmp_path / "model.h5")
    loaded = keras().models.load_model(tmp_path / "model.h5", compile=False)
    x = np.random.default_rng(2).normal(size=(3, 32, 32, 3)).astype(np.float32)
    a, b = net(x, training=False), loaded(x, training=False)
    for name in FLOWER_HEADS.names:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))
