"""The export stage: convert every variant, check it, embed its metadata, score it through
LiteRT as every consumer will run it, gate on parity, and write export/ (model.json,
metrics.json and the .tflite files)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.heads import notsure
from pipeline.heads.schema import Heads
from pipeline.core.io import atomic_write_bytes, write_json
from pipeline.modelfile import embed as metadata
from pipeline.export import thresholds as thresholds_lib
from pipeline.export.convert import convert_all
from pipeline.modelfile.contract import Contract
from pipeline.modelfile.spec import ExportError, check_signature, describe, model_spec
from pipeline.modelfile.variants import BY_KEY, DEFAULT, REFERENCE, VARIANTS, lead

MAX_FLOAT_DIFF = 1e-4  # float32 .tflite vs Keras: same maths, only op-order rounding
MIN_INT8_AGREEMENT = 0.98  # QAT int8 .tflite vs the QAT Keras model, arg-max, per head
# Below this many test images one flipped near-tie already breaks 98%: the agreement is then
# reported and warned about, not gated (tiny test runs would fail at random otherwise).
MIN_GATED_IMAGES = 50


def write_variants(out_dir: Path, contents: dict[str, bytes], contract: Contract,
                   thresholds: dict[str, dict] | None = None) -> dict:
    """Check each signature, embed the metadata (each variant's thresholds, {variant: {head:
    threshold}}, included), write the .tflite files and model.json."""
    out_dir = Path(out_dir)
    heads, image_size, normalization = contract.heads, contract.image_size, contract.normalization
    variants = {}
    for key, content in contents.items():
        variant = BY_KEY[key]
        check_signature(content, heads, image_size, variant.input_dtype, name=variant.file)
        own_thresholds = (thresholds or {}).get(key)
        entry = describe(content, variant.file, heads, normalization, own_thresholds)
        # The packed model.json lists this variant only, and no size: a file cannot hold its own.
        own = {**model_spec(heads, image_size, {key: entry}), "default": key}
        content = metadata.embed_variant(key, content, own, heads, normalization, variant.file,
                                         own_thresholds, contract.network)
        atomic_write_bytes(out_dir / variant.file, content)
        variants[key] = {**entry, "size_bytes": len(content)}
    spec = model_spec(heads, image_size, variants)
    write_json(out_dir / "model.json", spec)
    return spec


def keras_probs(model, contract: Contract, pixels: np.ndarray) -> dict:
    """The Keras model's probabilities on the same pixels the .tflite files see."""
    out = model.predict(contract.float_input(pixels), batch_size=32, verbose=0)
    return {name: np.asarray(out[name], dtype=np.float32) for name in contract.heads.names}


def compare(heads: Heads, probs: dict, reference: dict, labels: np.ndarray) -> dict:
    """Arg-max agreement per head, over the photos labelled with one of its classes (on a
    "none of these" photo the classes' scores are all low and their order means nothing),
    and the largest probability difference over all photos."""
    agreement = {}
    for i, head in enumerate(heads):
        n = head.name
        known = head.impl.known(heads.block(labels, i))
        same = head.impl.agreement(probs[n], reference[n], head)
        agreement[n] = float(np.mean(same[known])) if known.any() else 1.0
    # a regression output is compared in its training standard deviations, like a probability
    diff = max(float(np.max(np.abs(probs[h.name] - reference[h.name])))
               / h.impl.value_scale(h) for h in heads)
    return {"agreement": agreement, "max_abs_diff": diff}


def score_variants(out_dir: Path, spec: dict, heads: Heads, pixels: np.ndarray,
                   labels: np.ndarray, references: dict) -> dict:
    """Each variant run through LiteRT on the test images, as every consumer will run it,
    with the thresholds its own file carries."""
    from pipeline.deploy.evaluate import predict
    from pipeline.heads.metrics import head_metrics
    from pipeline.modelfile.runtime import TFLiteModel

    results, said = {}, {}
    for key, entry in spec["variants"].items():
        model = TFLiteModel(Path(out_dir) / entry["file"])
        probs = predict(model, pixels)
        test = head_metrics(heads, labels, probs, model.thresholds)
        said[key] = {h.name: notsure.answers(probs[h.name], model.thresholds[h.name])
                     != notsure.NOT_SURE for h in heads if h.impl.declines}
        results[key] = {"accuracy": {n: test[n]["accuracy"] for n in heads.names},
                        "joint_accuracy": test["joint_accuracy"], "source": BY_KEY[key].source,
                        **compare(heads, probs, references[BY_KEY[key].source], labels),
                        "size_bytes": entry["size_bytes"], "test": test}
    for key in results if REFERENCE in said else ():  # answered / not sure: the same
        results[key]["answered_agreement"] = {  # photos as the float32 file, if exported?
            n: float(np.mean(said[key][n] == said[REFERENCE][n])) for n in said[key]}
    return results


def gate(results: dict, heads: Heads, labelled: dict[str, int]) -> tuple[list[str], list[str]]:
    """(failures, warnings): float32 parity, and QAT int8 agreement where the number of test
    photos labelled with one of the head's classes (labelled[head]) can judge it; each where
    that variant was exported."""
    failures, warnings = [], []
    diff = results[REFERENCE]["max_abs_diff"] if REFERENCE in results else 0.0
    if diff > MAX_FLOAT_DIFF:
        failures.append(f"float32 differs from Keras by {diff:.2e} (limit {MAX_FLOAT_DIFF:.0e})")
    for name, value in results.get(DEFAULT, {}).get("agreement", {}).items():
        n_images = labelled[name]
        if value >= MIN_INT8_AGREEMENT:
            continue
        message = (f"int8 agrees with the QAT Keras model on {value:.1%} of {name} "
                   f"(limit {MIN_INT8_AGREEMENT:.0%})")
        if n_images >= MIN_GATED_IMAGES:
            failures.append(message)
        else:
            warnings.append(f"{message}, on only {n_images} test images "
                            f"(gated from {MIN_GATED_IMAGES})")
    return failures, warnings


def choose_thresholds(key: str, content: bytes, contract: Contract, val: tuple,
                      coverage: float, overrides: dict, decline: dict | None = None) -> dict:
    """Thresholds per head from this variant's own scores on the validation photos."""
    heads = contract.heads
    entry = describe(content, BY_KEY[key].file, heads, contract.normalization)
    spec = model_spec(heads, contract.image_size, {key: entry})
    pixels, labels = val
    scores = thresholds_lib.variant_scores(entry, content, spec, pixels)
    return thresholds_lib.choose(heads, scores, labels, coverage, overrides, decline)


def format_not_sure(results: dict, chosen: dict, heads: Heads) -> str:
    """Per head: the threshold and how it chose, then per variant on test: answered share of
    labelled photos, selective accuracy, not sure on "none of these" (each with its 95%
    interval: on a test split this small, one photo moves a share by a point or more), ECE."""
    lines, first = [], lead(chosen)
    for head in (h for h in heads if h.impl.declines):
        lines.append(f"{head.name}: not sure below each file's threshold ("
                     f"{chosen[first][head.name]['rule']})")
        for key, r in results.items():
            m = r["test"][head.name]
            ci = notsure.interval_texts(m, percent=True)
            none = (f", not sure on {_pct(m['not_sure_on_none']).strip()}%"
                    f"{ci.get('not_sure_on_none', '')} of {m['n_none']} 'none of these'"
                    if m["n_none"] else "")
            lines.append(f"  {key:<9} {chosen[key][head.name]['threshold']:.4f}  test: answers "
                         f"{_pct(m['coverage']).strip()}%{ci.get('coverage', '')}, selective "
                         f"accuracy {_pct(m['selective_accuracy']).strip()}%"
                         f"{ci.get('selective_accuracy', '')}{none}, ECE "
                         f"{m['ece'] if m['ece'] is None else round(m['ece'], 3)}"
                         f"{_floor(m.get('ece_noise_floor'))}")
        lines.append(f"  other thresholds for {BY_KEY[first].file} on val (threshold: answers"
                     " / selective accuracy / not sure on 'none of these'): " + "; ".join(
                         f"{t:g}: {_pct(c).strip()}/{_pct(a).strip()}/{_pct(n).strip()}"
                         for t, c, a, n in chosen[first][head.name]["val_curve"]))
    return "\n".join(lines)


def _floor(value) -> str:
    """The ECE a perfectly calibrated file would read on these photos (sampling alone)."""
    return "" if value is None else f" (calibrated: ~{value:.3f})"


def _pct(value) -> str:
    return "   -  " if value is None else f"{100 * value:6.2f}"


def format_table(results: dict, heads: Heads) -> str:
    columns = "".join(f"{n[:14]:>15}" for n in heads.names)
    lines = [f"{'variant':<10}{'KB':>8}{columns}{'joint':>8}   agreement (vs source)  max|dp|"]
    for key, r in results.items():
        accs = "".join(f"{_pct(r['accuracy'][n]):>15}" for n in heads.names)
        agree = "/".join(f"{100 * r['agreement'][n]:.1f}" for n in heads.names)
        lines.append(f"{key:<10}{r['size_bytes'] / 1024:8.0f}{accs}{_pct(r['joint_accuracy']):>8}"
                     f"   {agree:<12} ({r['source']:<5})  {r['max_abs_diff']:.1e}")
    return "\n".join(lines)


def export(out_dir: Path, float_model, qat_model, contract: Contract,
           calibration: np.ndarray, test: tuple, val: tuple, coverage: float | None = None,
           overrides: dict | None = None, decline: dict | None = None,
           variants=VARIANTS) -> dict:
    """Convert, check, choose the not-sure thresholds on val, score and write export/
    (model.json, metrics.json, the .tflite files) of the variants (default: all registered).

    test, val: (uint8 pixels [N, S, S, 3], labels [N, H]). Raises ExportError if a check fails.
    """
    heads, image_size = contract.heads, contract.image_size
    contents = convert_all({"float": float_model, "qat": qat_model}, heads, image_size,
                           calibration, contract.normalization, variants)
    chosen = {}
    for key, content in contents.items():  # each file's thresholds from its own scores
        variant = BY_KEY[key]
        check_signature(content, heads, image_size, variant.input_dtype, variant.file)
        chosen[key] = choose_thresholds(key, content, contract, val, coverage, overrides or {},
                                        decline)
    spec = write_variants(out_dir, contents, contract, {
        k: {n: c["threshold"] for n, c in v.items()} for k, v in chosen.items()})
    pixels, labels = test
    references = {"float": keras_probs(float_model, contract, pixels),
                  "qat": keras_probs(qat_model, contract, pixels)}
    results = score_variants(out_dir, spec, heads, pixels, labels, references)
    sizes = {k: r["size_bytes"] for k, r in results.items()}
    ratio = sizes[DEFAULT] / sizes[REFERENCE] if {DEFAULT, REFERENCE} <= set(sizes) else None
    metrics = {"variants": results, "n_test": int(len(labels)), "thresholds": chosen,
               "size_ratio_int8_to_float32": ratio}
    write_json(Path(out_dir) / "metrics.json", metrics)
    print(format_table(results, heads))
    print(format_not_sure(results, chosen, heads))
    if ratio is not None:
        print(f"{BY_KEY[DEFAULT].file} is {ratio:.3f}x the size of {BY_KEY[REFERENCE].file}")
    failures, warnings = gate(results, heads, {
        h.name: int(h.impl.known(heads.block(labels, i)).sum()) for i, h in enumerate(heads)})
    for warning in warnings:
        print(f"warning: {warning}")
    if failures:
        raise ExportError("export check failed: " + "; ".join(failures))
    return metrics
