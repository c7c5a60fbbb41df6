"""Calibration after QAT: a temperature and a "none" bias, fitted on val, folded into the
QAT-wrapped conv10 and its quantizers' ranges, exact enough that the int8 file follows."""
import numpy as np
import pytest

from pipeline.heads import notsure
from pipeline.heads.schema import FLOWER_HEADS, NONE


def softmax(z):
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def drawn(z, rng):
    """One class drawn per row from softmax(z): the truth a calibrated model predicts."""
    p = softmax(z)
    return (rng.random((len(p), 1)) > np.cumsum(p, axis=1)).sum(axis=1)


def test_fit_temperature_none_recovers_both():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 4, (4000, 4))
    truth = drawn(z / 2.0 + [0, 0, 0, -1.0], rng)  # the model's logits are 2x sharp
    t, b = notsure.fit_temperature_none(softmax(z), truth)
    assert t == pytest.approx(2.0, rel=0.08) and b == pytest.approx(-1.0, abs=0.2)
    calibrated = notsure.tempered(softmax(z), t, b)
    assert np.allclose(calibrated, softmax(z / t + [0, 0, 0, b]), atol=1e-5)


def test_ece_noise_floor_is_what_a_calibrated_model_reads_on_so_few_photos():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, (128, 3))
    seen = [notsure.ece(softmax(z), drawn(z, rng)) for _ in range(300)]  # calibrated truth
    floor = notsure.ece_noise_floor(softmax(z), np.zeros(128, int))
    assert floor == pytest.approx(np.mean(seen), rel=0.1) and floor > 0.05
    assert notsure.ece_noise_floor(softmax(np.tile(z, (20, 1))), np.zeros(2560, int)) < 0.03


@pytest.fixture(scope="module")
def tiny_qat():
    from pipeline.core.config import DEFAULT_NORMALIZATION, ModelConfig
    from pipeline.export import quantize
    from pipeline.core.tfcompat import keras
    from pipeline.training.model import build_model

    keras().utils.set_random_seed(0)  # the drawn truth and the fit below are then fixed
    model = build_model(ModelConfig(image_size=32, batchnorm=False), FLOWER_HEADS)
    qat = quantize.quantize_model(model, DEFAULT_NORMALIZATION)
    pixels = np.random.default_rng(1).integers(0, 256, (256, 32, 32, 3)).astype(np.uint8)
    quantize.calibrate_ranges(qat, model, pixels, DEFAULT_NORMALIZATION)
    return qat, pixels, DEFAULT_NORMALIZATION


def logits(qat, pixels, normalization):
    from pipeline.training import calibrate

    full, _ = calibrate.qat_scores(qat, FLOWER_HEADS, pixels, normalization)
    return {n: np.log(p) for n, p in full.items()}  # logits up to a per-row constant


def centred(z):
    return z - z.mean(axis=1, keepdims=True)


def test_fold_qat_divides_the_logits_and_shifts_none(tiny_qat):
    """Within a quantization step of the conv's output: the kernel quantizer's stored range
    is scaled with the kernel (else the kernel is re-quantized on the old grid)."""
    from pipeline.training import calibrate

    qat, pixels, norm = tiny_qat
    saved = [(v, v.numpy()) for v in qat.weights]
    try:
        before = logits(qat, pixels, norm)
        calibrate.fold_qat(qat, "flower_type", 0.5, 1.5)  # sharper: an unscaled range clips
        after = logits(qat, pixels, norm)["flower_type"]
        expected = before["flower_type"] / 0.5 + [0, 0, 1.5]
        conv = calibrate._variables(qat.get_layer("quant_flower_type_conv10"))
        step = float(conv["post_activation_max"].numpy() - conv["post_activation_min"].numpy())
        assert np.abs(centred(after) - centred(expected)).max() < 2 * step / 255
        assert np.allclose(logits(qat, pixels, norm)["flower_color"], before["flower_color"])
    finally:
        for v, value in saved:
            v.assign(value)


def balance(qat, head_name, shift):
    """Add `shift` to the head's logits (conv10's bias), its ranges widened to hold it."""
    from pipeline.training import calibrate

    conv = calibrate._variables(qat.get_layer(f"quant_{head_name}_conv10"))
    conv["bias"].assign(conv["bias"].numpy() + shift)
    calibrate._shift_range(conv, "post_activation_min", "post_activation_max", 1.0, shift)
    pool = calibrate._variables(qat.get_layer(f"quant_{head_name}_pool"))
    calibrate._shift_range(pool, "output_min", "output_max", 1.0, shift)


def test_recalibration_after_qat_lowers_ece_and_the_int8_file_follows(tiny_qat):
    """An over-confident QAT model (logits 4x too sharp for the truth drawn): the fit finds
    T ~ 4, the QAT Keras ECE falls, and the int8 file converted from it agrees."""
    from pipeline.export.convert import convert
    from pipeline.modelfile.variants import FULL_INT8
    from pipeline.training import calibrate

    qat, pixels, norm = tiny_qat
    saved = [(v, v.numpy()) for v in qat.weights]
    try:
        rng = np.random.default_rng(2)
        z = logits(qat, pixels, norm)
        for head in FLOWER_HEADS:  # every logit wins some photos; spread, so it is sure
            balance(qat, head.name, -z[head.name].mean(axis=0))
            calibrate.fold_qat(qat, head.name, 1 / (8 / z[head.name].std()))
        z = logits(qat, pixels, norm)
        truth = np.stack([drawn(z[h.name] / 4, rng) for h in FLOWER_HEADS], axis=1)
        truth = np.where(truth == [2, 3], NONE, truth)  # the last logit is "none of these"
        arrays = {"val": (pixels, truth)}
        _, sharp = calibrate.qat_scores(qat, FLOWER_HEADS, pixels, norm)
        sharp_int8 = int8_scores(convert(qat, FLOWER_HEADS, 32, FULL_INT8, pixels, norm), pixels)
        report = calibrate.recalibrate_qat(qat, FLOWER_HEADS, arrays, norm)
        _, out = calibrate.qat_scores(qat, FLOWER_HEADS, pixels, norm)
        int8 = int8_scores(convert(qat, FLOWER_HEADS, 32, FULL_INT8, pixels, norm), pixels)
    finally:
        for v, value in saved:
            v.assign(value)
    for i, head in enumerate(FLOWER_HEADS):
        entry = report[head.name]
        assert 2.5 < entry["temperature"] < 6.5
        assert notsure.ece(out[head.name], truth[:, i]) < entry["ece_before_val"] - 0.1
    for i, head in enumerate(FLOWER_HEADS):
        assert notsure.ece(int8[head.name], truth[:, i]) < report[head.name]["ece_before_val"] - 0.1
        # The int8 file computes what the folded QAT model fake-quantizes (output steps of
        # 12 / 255 here, tfmot's initial range) as closely as before the fold.
        gap = np.abs(int8[head.name] - out[head.name]).mean()
        assert gap < np.abs(sharp_int8[head.name] - sharp[head.name]).mean() + 0.01


def int8_scores(content, pixels):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=content).get_signature_runner()
    (name, detail), = runner.get_input_details().items()
    scale, zero = detail["quantization"]
    x = np.clip(np.round((pixels - 128.0) / 128.0 / scale + zero), 0, 255).astype(np.uint8)
    found = [runner(**{name: image[None]}) for image in x]
    return {h.name: np.concatenate([r[h.name] for r in found]) for h in FLOWER_HEADS}
