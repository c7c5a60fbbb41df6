"""The optimizer every training and QAT step uses: Adam on a schedule tied to its step count."""
from __future__ import annotations

import functools

from pipeline.core.tfcompat import keras, tf


def build_optimizer(lr: float, total_steps: int, frozen_steps: int = 0,
                    finetune_lr: float | None = None):
    """Adam; the rate runs on the optimizer's step, so a resumed run continues it.

    Without a frozen phase: cosine decay from `lr`. With one: `lr` held for the first
    `frozen_steps` (only the heads learn), then cosine decay from `finetune_lr`.
    """
    k = keras()
    rest = k.optimizers.schedules.CosineDecay(
        lr if finetune_lr is None else finetune_lr,
        decay_steps=max(total_steps - frozen_steps, 1), alpha=0.02)
    schedule = _two_phase_class()(lr, frozen_steps, rest) if frozen_steps else rest
    # jit_compile off: the update runs inside tf.switch_case for alternating training.
    return k.optimizers.Adam(schedule, jit_compile=False)


@functools.cache
def _two_phase_class():
    t = tf()

    class TwoPhase(keras().optimizers.schedules.LearningRateSchedule):
        def __init__(self, lr, frozen_steps, rest):
            self.lr, self.frozen_steps, self.rest = lr, frozen_steps, rest

        def __call__(self, step):
            step = t.cast(step, t.float32)
            later = self.rest(t.maximum(step - self.frozen_steps, 0.0))
            return t.where(step < self.frozen_steps, t.cast(self.lr, later.dtype), later)

        def get_config(self):
            return {"lr": self.lr, "frozen_steps": self.frozen_steps,
                    "rest": self.rest.get_config()}

    return TwoPhase
