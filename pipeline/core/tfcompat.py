"""Import TensorFlow the one way this stack needs: legacy Keras (tf_keras), quiet logs.

tfmot refuses Keras 3 models, so TF_USE_LEGACY_KERAS must be set before TensorFlow is
first imported. Every module that needs TF calls `keras()` inside its functions.
"""
from __future__ import annotations

import os


def keras():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    # 3 also hides the "failed call to cuInit" error every CPU-only machine prints; real
    # TensorFlow errors still arrive as Python exceptions.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tf_keras

    return tf_keras


def tf():
    keras()
    import tensorflow

    return tensorflow
