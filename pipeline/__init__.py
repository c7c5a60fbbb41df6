"""Multi-task flower pipeline: one SqueezeNet trunk, one head per task, exported to TFLite."""

__version__ = "0.1.0"
