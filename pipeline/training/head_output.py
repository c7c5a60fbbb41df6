"""A classification head's output: its classes' probabilities, with room for "none of these".

The head's last conv has one logit per class plus one for "none of these"; a softmax spreads
the probability over all of them, and the output (named by the head) keeps the head's own
classes only, so its scores may sum to less than 1: what is missing is the model's belief that
the photo is none of the classes. Photos labelled NONE (negatives, and -1 where heads.json
declares "none") are trained towards that extra class (multitask.masked_cross_entropy), and a
head says "not sure" when no class reaches its threshold (core/notsure.py).

The "drop the none column" step is a fixed, non-trainable Dense layer (an identity matrix
with one zero row), because tfmot quantizes Dense without annotation (a Lambda slice would
not) and its 0/1 weights are exact in int8.
"""
from __future__ import annotations

import numpy as np

from pipeline.core.tfcompat import keras


def selection(num_classes: int) -> list:
    """(classes + 1) x classes: keeps the first `num_classes` columns, drops the last."""
    return np.vstack([np.eye(num_classes), np.zeros((1, num_classes))]).astype(
        np.float32).tolist()


def class_scores(logits, name: str, num_classes: int):
    k = keras()
    probs = k.layers.Softmax(name=f"{name}_softmax")(logits)
    return k.layers.Dense(num_classes, use_bias=False, trainable=False, name=name,
                          kernel_initializer=k.initializers.Constant(selection(num_classes)))(
        probs)
