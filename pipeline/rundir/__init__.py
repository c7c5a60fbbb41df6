"""The run directory: one folder per run, one subfolder per stage, published crash-safe.

runs (the layout and its checks), publish (stage a version, swap it in), manifest (what a stage
wrote, with sha256), lock (one writer at a time) and trained (the view of a finished `train`
stage that later stages read). Crash-safe file writes themselves are core/io.py."""
