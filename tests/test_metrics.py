import json

import numpy as np
import pytest

from pipeline.heads.schema import FLOWER_HEADS
from pipeline.heads.metrics import format_table, head_metrics, single_head


def onehot(indices, classes):
    return np.eye(classes)[indices]


def test_known_values_and_json_shape():
    labels = np.array([[0, 0], [0, 1], [1, 2], [1, 2], [-1, 1], [1, -1]])
    probs = {"flower_type": onehot([0, 1, 1, 1, 0, 0], 2),
             "flower_color": onehot([0, 1, 2, 0, 1, 2], 3)}
    m = head_metrics(FLOWER_HEADS, labels, probs)
    t, c = m["flower_type"], m["flower_color"]
    assert t["n"] == 5 and t["accuracy"] == pytest.approx(3 / 5)
    assert t["confusion"] == [[1, 1], [1, 2]]
    assert t["per_class"]["rose"] == {"precision": 0.5, "recall": 0.5, "n": 2}
    assert t["per_class"]["daisy"]["recall"] == pytest.approx(2 / 3)
    assert t["mean_recall"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert c["n"] == 5 and c["accuracy"] == pytest.approx(4 / 5)
    assert c["confusion"] == [[1, 0, 0], [0, 2, 0], [1, 0, 1]]
    # Joint: only the 4 images with both labels; rows 0 and 2 have both heads right.
    assert m["joint_n"] == 4 and m["joint_accuracy"] == pytest.approx(2 / 4)
    json.dumps(m)  # plain Python types only


def test_missing_labels_ignored_whatever_the_prediction():
    truth = np.array([0, 1, -1, -1])
    a = single_head(("a", "b"), truth, onehot([0, 1, 0, 0], 2))
    b = single_head(("a", "b"), truth, onehot([0, 1, 1, 1], 2))
    assert a == b and a["n"] == 2 and a["accuracy"] == 1.0


def test_empty_and_absent_classes_are_null_not_nan():
    m = single_head(("a", "b", "c"), np.array([-1, -1]), onehot([0, 1], 3))
    assert m["accuracy"] is None and m["mean_recall"] is None
    m = single_head(("a", "b", "c"), np.array([0, 0]), np.array([0, 1]))
    assert m["per_class"]["c"] == {"precision": None, "recall": None, "n": 0}
    assert m["per_class"]["b"]["precision"] == 0.0
    assert m["mean_recall"] == 0.5  # only class a has images


def test_single_task_and_table():
    heads = FLOWER_HEADS.select(["color"])
    m = head_metrics(heads, np.array([[0], [2]]), {"flower_color": onehot([0, 2], 3)})
    assert m["joint_accuracy"] == 1.0 and "flower_type" not in m
    assert "flower_color" in format_table(m, heads)


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        single_head(("a", "b"), np.array([0, 1]), onehot([0], 2))
