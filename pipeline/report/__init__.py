"""`pipeline report`: one self-contained HTML page of a run, problems first (no TensorFlow)."""
