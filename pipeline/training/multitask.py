"""Multi-task training step: masked losses, joint or alternating updates, loss weighting.

`MultiTask` wraps any functional model with one output per head (the float model, or its tfmot
QAT clone whose outputs are renamed `quant_<name>`) and trains it with `fit`:

- masked loss: an unknown label adds nothing to its head's loss or gradient; each head's loss
  is its kind's loss (core/kinds: cross-entropy, binary cross-entropy, Huber) averaged over the
  images labelled for that head in the batch;
- joint: one step on the weighted sum of the head losses (fixed weights, or Kendall et al. 2018
  learned log-variances s: exp(-s) * L + s / 2, s scaled to learn at a rate of its own);
- alternating: step k trains head k mod H. The step runs a sub-model made of the trunk and the
  active head only and applies gradients to its variables only, so the inactive head's weights,
  its BatchNorm statistics and its Adam moments stay exactly as they were.

Under a tf.distribute strategy with several replicas (devices or workers), gradients are
summed over replicas. Each replica's loss is therefore its own images' cross-entropy divided
by the number of labelled images in the *global* batch (all-reduced), so the sum is the
global batch's masked mean, whatever share of labels each replica happens to hold; terms that
do not depend on the data (the +s/2 of uncertainty weighting) are divided by the number of
replicas. One replica: exactly the single-device step.

Importing this module imports TensorFlow (MultiTask subclasses tf_keras.Model): the stages
import it inside their functions, so the CLI starts without TensorFlow.
"""
from __future__ import annotations

from pipeline.core.config import MODES, WEIGHTINGS
from pipeline.heads.schema import Heads
from pipeline.heads.kinds.classification import masked_cross_entropy  # noqa: F401 (re-export)
from pipeline.core.tfcompat import keras, tf

# Uncertainty weighting: each log-variance s is stored as s / LOG_VAR_RATE. Adam moves a
# variable by about the learning rate per step whatever its gradient's size, so with the
# fine-tuning rate (3e-4) s itself moved ~1e-2 in a whole run and the weights stayed 1.0;
# scaled, s moves ~LOG_VAR_RATE x faster (about 0.03 a step) and reaches its optimum,
# log(2 L), within a few epochs. (Its own optimizer would do the same with more code.)
LOG_VAR_RATE = 100.0



def head_tensors(net, heads: Heads) -> list:
    """The symbolic output of each head, found by name (QAT prefixes `quant_`), never by order."""
    by_name = {}
    for name, tensor in zip(net.output_names, net.outputs):
        by_name[name.removeprefix("quant_")] = tensor
    missing = [h.name for h in heads if h.name not in by_name]
    if missing:
        raise ValueError(f"model has no output for head(s) {missing}; outputs: {net.output_names}")
    return [by_name[h.name] for h in heads]


def masked_loss(head, labels, out, none_weight: float = 1.0):
    """(mean loss over the images that count, per-image loss, mask of those images): the
    head's kind's loss (core/kinds), an unknown label costing exactly 0 with no gradient."""
    t = tf()
    per_image, mask = head.impl.loss(labels, out, head, none_weight)
    return t.reduce_sum(per_image) / t.maximum(t.reduce_sum(mask), 1.0), per_image, mask


def replica_count(mask):
    """Labelled images in the global batch: this replica's, summed over every replica."""
    t = tf()
    count = t.reduce_sum(mask)
    context = t.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        count = context.all_reduce(t.distribute.ReduceOp.SUM, count)
    return count


def replicas_in_sync() -> int:
    context = tf().distribute.get_replica_context()
    return context.num_replicas_in_sync if context is not None else 1


class MultiTask(keras().Model):
    """The trainer around `net`; compile it with `.prepare(build_optimizer(...))`, then fit."""

    def __init__(self, net, heads: Heads, mode: str = "joint", loss_weights: dict | None = None,
                 weighting: str = "fixed", none_weight: float = 1.0):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"unknown weighting {weighting!r}; "
                             f"choose from {', '.join(WEIGHTINGS)}")
        super().__init__()
        k = keras()
        self.net, self.heads, self.mode, self.weighting = net, heads, mode, weighting
        self.none_weight = float(none_weight)
        self.head_of_step = None  # alternating on several replicas: the head being traced
        weights = loss_weights or {}
        self.fixed = [float(weights.get(h.name, 1.0)) for h in heads]
        outputs = head_tensors(net, heads)
        self.joint = k.Model(net.inputs, outputs)  # shares every layer with net
        self.branches = [k.Model(net.inputs, out) for out in outputs]
        self.log_vars = self.add_weight(name="log_vars", shape=(len(heads),), initializer="zeros",
                                        trainable=weighting == "uncertainty")
        self.trackers = [k.metrics.Mean(name="loss")]
        for h in heads:
            self.trackers += [k.metrics.Mean(name=f"{h.name}_loss"),
                              k.metrics.Mean(name=f"{h.name}_{h.impl.metric}")]

    @property
    def metrics(self):
        return self.trackers  # Keras resets these at every epoch and evaluation

    def call(self, x, training=None):
        return self.joint(x, training=training)

    def weighted(self, i: int, part):
        """Head i's contribution to this replica's share of the total loss (module doc)."""
        t = tf()
        _, per_image, mask = part
        count = replica_count(mask)
        loss = t.reduce_sum(per_image) / t.maximum(count, 1.0)
        if self.weighting == "fixed":
            return self.fixed[i] * loss
        s = LOG_VAR_RATE * self.log_vars[i]
        # A batch with no label for this head must not pull s down through the +s/2 term.
        present = t.cast(count > 0, t.float32)
        return present * (t.exp(-s) * loss + 0.5 * s / replicas_in_sync())

    def head_losses(self, y, probs: list):
        return [masked_loss(h, y[h.name], p, self.none_weight)
                for h, p in zip(self.heads, probs)]

    def track(self, i: int, y, probs, loss_parts) -> None:
        _, per_image, mask = loss_parts
        head = self.heads.heads[i]
        figure, weight = head.impl.hits(y[head.name], probs, head)  # accuracy, or MAE
        self.trackers[1 + 2 * i].update_state(per_image, sample_weight=mask)
        self.trackers[2 + 2 * i].update_state(figure, sample_weight=weight)

    def log_variances(self) -> list[float]:
        """The learned log-variances s (uncertainty weighting): weight exp(-s) per head."""
        return [LOG_VAR_RATE * float(v) for v in self.log_vars.numpy()]

    def extra_vars(self) -> list:
        return [self.log_vars] if self.weighting == "uncertainty" else []

    @tf().autograph.experimental.do_not_convert
    def train_step(self, data):
        x, y = data[0], data[1]
        if self.mode == "joint":
            self._joint_step(x, y)
        elif self.head_of_step is not None:  # traced for one head (make_train_function)
            self._branch_step(self.head_of_step, x, y)
        else:
            t = tf()
            active = t.cast(self.optimizer.iterations % len(self.heads), t.int32)
            t.switch_case(active, [lambda i=i: self._branch_step(i, x, y)
                                   for i in range(len(self.heads))])
        return {m.name: m.result() for m in self.trackers}

    def make_train_function(self, force=False):
        """Alternating mode under a tf.distribute strategy: one traced step per head, picked
        in Python before each step from the optimizer's step count.

        The single-device step picks its head with tf.switch_case, but a strategy aggregates
        gradients with merge_call, which TensorFlow refuses inside a control-flow branch; so
        each head gets its own train function (same weights, same optimizer), and the step
        count (a mirrored variable, equal on every worker) chooses one, as the switch did."""
        # Built under any strategy (even one replica): its merge_call is what branches refuse.
        under_strategy = self._distribution_strategy is not None
        if (self.mode == "joint" or not under_strategy
                or (self.train_function is not None and not force)):
            return super().make_train_function(force)
        steps = []
        for _ in self.heads:  # each call makes (and caches) a new, untraced tf.function
            steps.append(super().make_train_function(force=True))

        def train_function(iterator):
            i = int(self.optimizer.iterations.numpy()) % len(self.heads)
            self.head_of_step = i  # read while steps[i] traces (its first call only)
            try:
                return steps[i](iterator)
            finally:
                self.head_of_step = None

        self.train_function = train_function
        return train_function

    def _joint_step(self, x, y):
        t = tf()
        with t.GradientTape() as tape:
            probs = self.joint(x, training=True)
            probs = probs if isinstance(probs, (list, tuple)) else [probs]
            parts = self.head_losses(y, probs)
            total = t.add_n([self.weighted(i, p) for i, p in enumerate(parts)])
        variables = self.joint.trainable_variables + self.extra_vars()
        self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        # Keras averages a metric over replicas; total is one replica's share of the sum.
        self.trackers[0].update_state(total * replicas_in_sync())
        for i, p in enumerate(parts):
            self.track(i, y, probs[i], p)

    def _branch_step(self, i: int, x, y):
        t = tf()
        branch = self.branches[i]
        with t.GradientTape() as tape:
            probs = branch(x, training=True)
            head = self.heads.heads[i]
            part = masked_loss(head, y[head.name], probs, self.none_weight)
            total = self.weighted(i, part)
        variables = branch.trainable_variables + self.extra_vars()
        self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        self.trackers[0].update_state(total * replicas_in_sync())
        self.track(i, y, probs, part)
        return t.constant(0.0)

    @tf().autograph.experimental.do_not_convert
    def test_step(self, data):
        t = tf()
        x, y = data[0], data[1]
        probs = self.joint(x, training=False)
        probs = probs if isinstance(probs, (list, tuple)) else [probs]
        parts = self.head_losses(y, probs)
        # Validation loss is the plain sum of head losses, comparable across weightings; a
        # batch of padding only (distributed evaluation, datasets.Feed.pad_to) does not count.
        labelled = t.cast(t.add_n([t.reduce_sum(p[2]) for p in parts]) > 0, t.float32)
        self.trackers[0].update_state(t.add_n([p[0] for p in parts]), sample_weight=labelled)
        for i, p in enumerate(parts):
            self.track(i, y, probs[i], p)
        return {m.name: m.result() for m in self.trackers}

    def freeze_trunk(self, frozen: bool) -> None:
        """Freeze (or thaw) every layer outside the heads. tf_keras' fit restores the layers'
        trainable flags recorded at compile time, and the train step collects its variables
        when traced: compiling again (same optimizer, same state) records the new flags and
        drops the old trace."""
        from pipeline.training.model import head_layer_names

        in_heads = head_layer_names(self.net, self.heads)
        for layer in self.net.layers:
            if layer.name not in in_heads:
                layer.trainable = not frozen
        self.compile(optimizer=self.optimizer)

    def prepare(self, optimizer) -> None:
        """Compile and create every optimizer slot now: variables cannot be made in a branch."""
        self.compile(optimizer=optimizer)
        optimizer.build(self.joint.trainable_variables + [self.log_vars])
