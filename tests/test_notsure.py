"""The not-sure rule, calibration and threshold choice (pure numpy), and their inputs."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.data import negatives
from pipeline.heads import notsure
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import FLOWER_HEADS, NONE, parse_schema
from pipeline.data.labels import LabelFileError, Sample, read_label_file, select_heads
from pipeline.heads.metrics import head_metrics
from pipeline.export.thresholds import choose, parse_overrides


def test_rule_answers_at_or_above_threshold_and_not_below():
    scores = np.array([[0.7, 0.3], [0.69, 0.31], [0.5, 0.5]], np.float32)
    assert notsure.answers(scores, 0.7).tolist() == [0, notsure.NOT_SURE, notsure.NOT_SURE]
    assert notsure.answers(scores, None).tolist() == [0, 0, 0]  # an old file: always answers
    assert notsure.answer(scores[0], 0.7) == 0 and notsure.answer(scores[1], 0.7) is None


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, float("nan"), True, "0.5", None])
def test_threshold_must_be_a_number_strictly_between_0_and_1(bad):
    with pytest.raises(ValueError, match="between 0 and 1"):
        notsure.check_threshold(bad, "x")


def overconfident(n=2000, seed=0):
    """Scores of a model right 70% of the time that says 95-99%: ECE about 0.27."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.7, truth, (truth + rng.integers(1, 3, n)) % 3)
    top = rng.uniform(0.95, 0.99, n)
    scores = np.full((n, 3), 0.0)
    scores[:] = ((1 - top) / 2)[:, None]
    scores[np.arange(n), pred] = top
    return scores.astype(np.float32), truth


def test_temperature_scaling_lowers_ece_of_an_overconfident_model():
    val, val_truth = overconfident(seed=0)
    test, test_truth = overconfident(seed=1)
    before = notsure.ece(test, test_truth)
    t = notsure.fit_temperature(val, val_truth)
    after = notsure.ece(notsure.tempered(test, t), test_truth)
    assert before > 0.2 and t > 1.5 and after < 0.05, (before, t, after)


def test_ece_of_a_calibrated_model_is_small_and_skips_unlabelled_rows():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.34, 1.0, 5000)
    truth = (rng.random(5000) >= p).astype(int)  # class 0 right with probability p
    scores = np.stack([p, 1 - p], 1)
    assert notsure.ece(scores, truth) < 0.03
    assert notsure.ece(scores, np.full(5000, -1)) is None


def test_chosen_threshold_answers_the_asked_coverage_and_sits_between_scores():
    top = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.55, 0.52, 0.51, 0.505])
    t = notsure.choose_threshold(top, 0.5, classes=2)
    assert t == round((0.7 + 0.6) / 2, 4)
    assert (top >= t).mean() == 0.5
    assert notsure.choose_threshold([0.5, 0.5], 1.0, classes=2) > 0.5  # above chance


def test_metrics_count_none_rows_as_not_sure_share_not_as_accuracy():
    probs = {"flower_type": np.array([[0.9, 0.1], [0.2, 0.8], [0.55, 0.45], [0.95, 0.05]]),
             "flower_color": np.full((4, 3), 1 / 3)}
    labels = np.array([[0, -1], [1, -1], [NONE, NONE], [NONE, NONE]])
    m = head_metrics(FLOWER_HEADS, labels, probs, {"flower_type": 0.7, "flower_color": 0.5})
    t = m["flower_type"]
    assert t["n"] == 2 and t["accuracy"] == 1.0 and t["coverage"] == 1.0
    assert t["n_none"] == 2 and t["not_sure_on_none"] == 0.5
    assert m["flower_color"]["coverage"] is None and m["flower_color"]["not_sure_on_none"] == 1
    # each share with its 95% interval (Wilson): 1 of 2 none rows is anything from 9% to 91%
    assert t["intervals"] == {"coverage": [0.3424, 1.0], "selective_accuracy": [0.3424, 1.0],
                              "not_sure_on_none": [0.0945, 0.9055]}
    assert m["flower_color"]["intervals"]["coverage"] is None
    from pipeline.heads.metrics import format_table

    line = [x for x in format_table(m, FLOWER_HEADS).splitlines() if "flower_type   not sure" in x]
    assert "answers 1.000 [0.342-1.000] of labelled" in line[0]
    assert "not sure on 0.500 [0.095-0.905] of 2 'none of these' (95% intervals)" in line[0]


def test_wilson_interval_known_values():
    """Published values of the Wilson score interval (95%); it stays inside [0, 1]."""
    assert notsure.wilson(5, 10) == [0.2366, 0.7634]
    assert notsure.wilson(0, 10) == [0.0, 0.2775]
    assert notsure.wilson(10, 10) == [0.7225, 1.0]
    assert notsure.wilson(0, 0) is None
    assert notsure.interval_text(notsure.wilson(42, 47), percent=True) == " [77.4-95.4%]"


def test_thresholds_chosen_per_head_or_set_by_the_user():
    labels = np.array([[0, 0]] * 10 + [[NONE, NONE]] * 2)
    probs = {"flower_type": np.tile([[0.9, 0.1]], (12, 1)),
             "flower_color": np.tile([[0.8, 0.1, 0.1]], (12, 1))}
    chosen = choose(FLOWER_HEADS, probs, labels, 0.95, {"flower_color": 0.85})
    assert chosen["flower_type"]["val"]["coverage"] == 1.0
    assert chosen["flower_color"]["threshold"] == 0.85
    assert chosen["flower_color"]["val"]["coverage"] == 0.0


@pytest.mark.parametrize("text, message", [("size=0.5", "no head 'size'"),
                                           ("type=1.2", "between 0 and 1"),
                                           ("type=0", "between 0 and 1"),
                                           ("type", "expected e.g. type=0.8"),
                                           ("type=high", "expected e.g. type=0.8")])
def test_bad_threshold_options_are_one_line(text, message):
    with pytest.raises(PipelineError, match=message):
        parse_overrides(text, FLOWER_HEADS)


def test_minus_one_declared_per_head_in_heads_json(tmp_path):
    schema = {"heads": [{"name": "flower_type", "short": "type", "classes": ["rose", "daisy"]},
                        {"name": "flower_color", "short": "color",
                         "classes": ["red", "pink", "white"], "minus_one": "none"}]}
    heads = parse_schema(schema, "heads.json")
    assert [h.none for h in heads] == [False, True]
    assert heads.to_json() == schema
    (tmp_path / "heads.json").write_text(json.dumps(schema))
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "l.txt").write_text("a.png, 0, -1\na.png2, -1, 1\n")
    samples, _ = read_label_file(tmp_path / "l.txt")
    narrowed = select_heads(samples, heads, heads, "l.txt")
    assert [s.labels for s in narrowed] == [(0, NONE), (-1, 1)]  # type -1 stays unknown
    schema["heads"][1]["minus_one"] = "other"
    with pytest.raises(PipelineError, match="minus_one 'other' must be one of unknown, none"):
        parse_schema(schema, "heads.json")


def test_negatives_file_reads_kinds_and_refuses_class_columns_and_bad_images(tmp_path):
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "cat.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    good = tmp_path / "neg.txt"
    good.write_text("# negatives\ncat.png, not_flower\n")
    samples, kinds = negatives.read(good, FLOWER_HEADS)
    assert kinds == ["not_flower"] and samples[0].labels == (NONE, NONE)
    columns = tmp_path / "cols.txt"
    columns.write_text("cat.png, 0, 1\n")
    with pytest.raises(LabelFileError, match=r"cols.txt:1: a negatives file has `path, kind`"):
        negatives.read(columns, FLOWER_HEADS)
    broken = tmp_path / "broken.txt"
    broken.write_text("cat.png, cat\nbroken.jpg, cat\n")
    with pytest.raises(LabelFileError, match=r"broken.txt:2: .*broken.jpg"):
        negatives.read(broken, FLOWER_HEADS)


def test_balanced_threshold_sits_in_the_gap_between_classes_and_none():
    in_class = [0.95, 0.9, 0.85, 0.8, 0.75, 0.3]  # one hard photo of a class
    none = [0.1, 0.2, 0.35, 0.4, 0.45, 0.7]  # one negative that looks like a class
    t = notsure.balanced_threshold(in_class, none, classes=2)
    assert 0.7 < t < 0.75  # answers 5 of 6, declines 6 of 6: better than any other cut
    with pytest.raises(ValueError):
        notsure.balanced_threshold(in_class, [], classes=2)


def test_declining_threshold_is_the_lowest_that_declines_the_share():
    none = [0.1, 0.2, 0.3, 0.4, 0.9]
    t = notsure.declining_threshold(none, 0.8)
    assert t == 0.65  # halfway between 0.4 (the 4th of 5, declined) and 0.9 (answered)
    assert np.mean(np.array(none) < t) == 0.8
    # below chance is allowed: a head with room for "none of these" gives its classes < 1
    assert notsure.declining_threshold([0.2, 0.25, 0.3], 1.0) == 0.305


def test_decline_rule_per_head_and_its_bad_input():
    labels = np.array([[0, 1]] * 20 + [[NONE, NONE]] * 10)
    rng = np.random.default_rng(1)
    probs = {"flower_type": np.stack([np.r_[rng.uniform(0.5, 1, 20), rng.uniform(0.2, 0.6, 10)],
                                      np.zeros(30)], 1),
             "flower_color": np.tile([[0.1, 0.8, 0.1]], (30, 1))}
    chosen = choose(FLOWER_HEADS, probs, labels, None, {}, {"flower_type": 0.9})
    assert chosen["flower_type"]["rule"].startswith("declines 90% of the 10 validation photos")
    assert chosen["flower_type"]["val"]["not_sure_on_none"] == 0.9
    assert chosen["flower_color"]["rule"].startswith("best separates")  # other heads as before
    with pytest.raises(PipelineError, match="--decline 'size=0.9': no head 'size'"):
        parse_overrides("size=0.9", FLOWER_HEADS, "--decline")
    without_none = {k: v[:20] for k, v in probs.items()}
    with pytest.raises(PipelineError, match="--decline type=0.9: the validation split has no"):
        choose(FLOWER_HEADS, without_none, labels[:20], None, {}, {"flower_type": 0.9})


def test_a_head_without_none_photos_falls_back_to_coverage():
    labels = np.array([[0, 1]] * 20 + [[NONE, NONE]] * 5)
    rng = np.random.default_rng(0)
    probs = {"flower_type": np.stack([np.r_[rng.uniform(0.6, 1, 20), np.full(5, 0.5)],
                                      np.zeros(25)], 1),
             "flower_color": np.tile([[0.1, 0.8, 0.1]], (25, 1))}
    chosen = choose(FLOWER_HEADS, probs, labels, None, {})
    assert chosen["flower_type"]["rule"].startswith("best separates")
    assert chosen["flower_type"]["val"]["not_sure_on_none"] == 1.0
    chosen = choose(FLOWER_HEADS, {k: v[:20] for k, v in probs.items()}, labels[:20], None, {})
    assert chosen["flower_type"]["rule"].startswith("answers 95%")
    assert chosen["flower_type"]["val"]["coverage"] >= 0.95


def load_script(name: str):
    """A module of scripts/ (not a package), loaded from its file."""
    import importlib.util

    path = Path(__file__).parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_repeated_splits_pools_the_counts_of_every_split():
    """scripts/repeated_splits.py adds up what each split's evaluate file counted."""
    script = load_script("repeated_splits")
    probs = {"flower_type": np.array([[0.9, 0.1], [0.2, 0.8], [0.55, 0.45], [0.95, 0.05]]),
             "flower_color": np.full((4, 3), 1 / 3)}
    labels = np.array([[0, -1], [0, -1], [1, -1], [NONE, NONE]])
    one = {"metrics": head_metrics(FLOWER_HEADS, labels, probs,
                                   {"flower_type": 0.7, "flower_color": 0.5}),
           "negatives": {"flower_type": {"all": {"n": 4, "not_sure": 0.75}}}}
    total = script.pooled([one, one])
    # answered: rows 0 and 1 (row 2 is below 0.7); right: row 0 only (row 1 says daisy)
    assert total["flower_type: answers"] == (4, 6)
    assert total["flower_type: accuracy, every photo answered"] == (2, 6)  # row 0 of 0..2
    assert total["flower_type: selective accuracy"] == (2, 4)
    assert total["flower_type: not sure on 'none of these'"] == (0, 2)
    assert total["flower_type: not sure on negatives (all)"] == (6, 8)
    assert total["flower_color: answers"] == (0, 0)  # no labelled colour (main skips it)


def test_repeated_splits_trains_on_a_share_of_the_photos(tmp_path):
    """--train-share keeps that share of a file's photos, the same ones for the same seed,
    and every comment line."""
    script = load_script("repeated_splits")
    lines = ["# path, type, color"] + [f"p{i}.jpg, {i % 2}, -1" for i in range(10)]
    path = tmp_path / "train.txt"
    path.write_text("\n".join(lines) + "\n")
    script.keep_share(path, 0.5, seed=3)
    kept = path.read_text().splitlines()
    assert kept[0] == lines[0] and len(kept) == 6 and set(kept) <= set(lines)
    again = tmp_path / "again.txt"
    again.write_text("\n".join(lines) + "\n")
    script.keep_share(again, 0.5, seed=3)
    assert again.read_text().splitlines() == kept


def test_separation_script_measures_the_ranking_not_the_threshold():
    """scripts/separation.py: AUROC with ties counted half, and the colour coverage at the score
    that declines 80% of the other-colour flowers."""
    script = load_script("separation")
    assert script.auroc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert script.auroc(np.array([0.5]), np.array([0.5])) == 0.5
    assert script.auroc(np.array([0.1, 0.9]), np.array([0.5])) == 0.5

    def answer(type_scores, colour_scores):
        return {"predictions": {
            "flower_type": {"probabilities": dict(zip(("rose", "daisy"), type_scores))},
            "flower_color": {"probabilities": dict(zip(("red", "pink", "white"), colour_scores))}}}

    test = [Sample(Path(name), (kind, colour)) for name, kind, colour in
            [("a", 0, 0), ("b", 1, 2), ("c", 1, 1)] + [("o", 0, -1)] * 5]
    answers = [answer((0.9, 0.1), (0.9, 0.0, 0.0)), answer((0.1, 0.8), (0.0, 0.0, 0.7)),
               answer((0.2, 0.7), (0.0, 0.0, 0.95))]  # c: pink said white, confidently
    answers += [answer((0.5, 0.4), (0.1 * i, 0.0, 0.0)) for i in range(1, 6)]  # 0.1 .. 0.5
    negatives = [answer((0.3, 0.3), (0.3, 0.0, 0.0))] * 2
    figures = script.figures({"test": (test, answers), "negatives_test": ([], negatives)})
    assert figures["type_auroc"] == 1.0  # every flower's top type score (>= 0.5) above 0.3
    assert figures["colour_auroc"] == 1.0
    # cut at the 80th percentile of 0.1..0.5 (0.42): all three answered, two of them right
    assert figures["colour_coverage_at_80"] == 1.0
    assert figures["colour_selacc_at_80"] == pytest.approx(2 / 3)
    # ECE over the seeds pooled: the other-colour photos count as wrong for every answer
    rows = script.ece_rows({"test": (test, answers), "negatives_test": ([], negatives)})
    assert list(rows["flower_color"][1]) == [0, 2, 1] + [NONE] * 5
    with_negatives = script.ece_rows({"test": (test, answers), "negatives_test": ([], negatives)},
                                     with_negatives=True)
    assert list(with_negatives["flower_type"][1]) == [0, 1, 1] + [0] * 5 + [NONE] * 2
    pooled = script.pooled_ece([rows, rows])
    assert pooled["flower_type"][0] == pytest.approx(notsure.ece(*rows["flower_type"]))
