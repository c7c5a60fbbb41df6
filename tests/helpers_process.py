"""Running a piece of the pipeline in a fresh interpreter, to see what it imports."""
import subprocess
import sys

HEAVY = ("tensorflow", "tf_keras")


def run_without_tensorflow(code: str) -> str:
    """Run `code` in a new Python process; assert it succeeds without importing TensorFlow
    (the deploy side and the report run on LiteRT alone). Returns its stdout."""
    probe = f"{code}\nimport sys\nprint('TF', any(m.split('.')[0] in {HEAVY!r} for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("TF False"), out.stdout[-500:]
    return out.stdout
