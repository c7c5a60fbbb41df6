"""The `pipeline` command itself: help, version, fast start-up without TensorFlow."""
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pipeline import __version__
from pipeline.cli import app

runner = CliRunner()
STAGES = ["data", "train", "quantize", "evaluate", "benchmark", "predict", "inspect", "android",
          "report"]


def test_help_lists_every_stage():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for stage in STAGES:
        assert stage in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_cli_start_up_imports_no_tensorflow():
    code = ("import sys; from pipeline.cli import app; "
            "print(any(m.split('.')[0] in ('tensorflow', 'tf_keras') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_installed_script_runs():
    script = Path(sys.executable).parent / "pipeline"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "quantize" in out.stdout
