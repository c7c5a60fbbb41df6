"""What a head kind is: how one head's label cells are read and written, what its output layer
and loss are, how it is scored and how an answer is read from its output.

A backbone makes features (its trunk and a per-head branch ending in `units` channels, average
pooled); the head's kind turns them into the output named by the head. One module per kind,
one entry in `kinds/__init__.py`; every stage asks the head's kind instead of assuming a
softmax classifier.

Label values in memory (one per head in `Sample.labels`), by kind:
- classification: the class index, MISSING (-1, unknown) or NONE ("none of these");
- multilabel: a sorted tuple of class indices (empty: none of them), or MISSING;
- regression: a float, NaN unknown.
In arrays (the [N, W] label matrix that datasets, packs' readers and scoring pass around) each
head takes `width(head)` float32 columns (heads.Heads.slices).
"""
from __future__ import annotations

MISSING = -1  # a label file's "no label for this task"
# In memory only (never written to a label file): "looked at, and none of this head's
# classes". A -1 cell becomes NONE for a head whose heads.json says `"minus_one": "none"`,
# and every head of a negative photo is NONE. Its loss teaches the head to abstain.
NONE = -2


class Kind:
    """The interface; each kind module subclasses it. `head` is a heads.Head."""
    name = ""
    missing = MISSING  # the value of an unknown cell
    dtype = "int64"  # of its columns taken from a label matrix (Heads.block)
    has_classes = True  # the output's values are per class (a labels file in the .tflite)
    mediapipe = True  # MediaPipe Tasks' ImageClassifier can read the output
    metric = "accuracy"  # the training log's per-head figure
    stratify = False  # data split keeps this head's classes in proportion
    # What the kind can do: every stage asks these instead of the kind's name.
    one_class = False  # one class per photo: a confusion matrix, per-class recall, a gallery
    declines = False  # says "not sure" under a threshold chosen on validation, scored on
    #                   negatives; -1 may be declared "none of these"
    calibrated = False  # a temperature (and a "none" bias) is fitted into its logits
    fixed_threshold = None  # a threshold not chosen on validation (multilabel: 0.5 a class)
    # Its own parameters in heads.json, with their defaults (regression: unit, loss, center,
    # scale); `fitted_params` are set by training, not by the user.
    params: dict = {}
    fitted_params: tuple = ()

    # --- heads.json -------------------------------------------------------------------
    def check_entry(self, entry: dict, where: str) -> str | None:
        """What is wrong with a heads.json entry of this kind (None: nothing)."""
        raise NotImplementedError

    def parse_params(self, entry: dict, where: str) -> dict:
        """The kind's parameters a heads.json entry sets (check_entry has checked them)."""
        return {k: entry[k] for k in self.params if k in entry}

    def fitted(self, head, values: list):
        """The head with what training sets from its training labels (default: nothing)."""
        return head

    def value_scale(self, head) -> float:
        """What one unit of difference between two outputs is worth (regression: the training
        targets' spread), so that differences of heads compare."""
        return 1.0

    def values_text(self, head) -> str:
        """What the head answers, in a few words for the report."""
        return f"classes: {', '.join(head.classes)}"

    def shown(self, head) -> dict:
        """The parameters a reader shows with an answer (the phone page)."""
        return {}

    # --- label cells --------------------------------------------------------------------
    def parse_cell(self, field: str, head):
        """A label file's cell -> the value, or a str saying what is wrong."""
        raise NotImplementedError

    def format_cell(self, value) -> str:
        raise NotImplementedError

    def is_missing(self, value) -> bool:
        raise NotImplementedError

    def none_value(self):
        """The value of a photo that is none of this head's classes (a negative)."""
        raise NotImplementedError

    def counts_key(self, value, head) -> list[str]:
        """What `data check` counts this value as (class names, 'none', 'unknown', ...)."""
        raise NotImplementedError

    def count_columns(self, head) -> list[str]:
        """The columns of this head's block in `data check`'s table."""
        return [*head.classes, "none"]

    def gap_values(self, value) -> list:
        """The class indices a value shows (a split with no image of a class is warned)."""
        return []

    # --- arrays ---------------------------------------------------------------------------
    def width(self, head) -> int:
        return 1

    def encode(self, value, head) -> list[float]:
        raise NotImplementedError

    def known(self, block):
        """numpy [N] bool: rows of this head's columns that carry a label."""
        raise NotImplementedError

    def output_size(self, head) -> int:
        """Values in the exported output tensor [1, size]."""
        return head.num_classes

    def output_description(self, head, threshold) -> str:
        """The output tensor's description in the file's metadata."""
        raise NotImplementedError

    def agreement(self, a, b, head) -> "np.ndarray":
        """numpy [N] bool: two models' outputs [N, size] give the same answer (export checks)."""
        raise NotImplementedError

    # --- the model (TensorFlow, imported lazily) -------------------------------------------
    def units(self, head) -> int:
        """Channels of the backbone branch's last conv (its pooled output is the logits)."""
        raise NotImplementedError

    def output(self, logits, head):
        """Keras: the pooled logits -> the output layer named `head.name`."""
        raise NotImplementedError

    def loss(self, y, out, head, none_weight: float):
        """(per-image loss [N], mask [N] of the images that count), TensorFlow."""
        raise NotImplementedError

    def hits(self, y, out, head):
        """(per-image figure for the training log, its weight), TensorFlow."""
        raise NotImplementedError

    # --- scoring and answers (numpy) -----------------------------------------------------------
    def metrics(self, block, scores, head, threshold) -> dict:
        raise NotImplementedError

    def answer(self, scores, head, threshold) -> dict:
        """One photo's output -> {"label": ..., ...} as `pipeline predict --json` prints it."""
        raise NotImplementedError

    def describe(self, answer: dict, head) -> str:
        """The answer as one short phrase for the terminal."""
        raise NotImplementedError

    def summary(self, metrics: dict) -> str:
        """The head's metrics in one line (tables, logs)."""
        raise NotImplementedError
