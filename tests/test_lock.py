"""One writer per run directory: a second writer (another process) is refused with one line
naming the holder's pid and command; readers go on; the kernel frees the lock when the holder
dies, even by SIGKILL."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers_runs import make_tiny_exported_run, write_tiny_dataset
from pipeline.cli import app
from pipeline.rundir.lock import LOCK_FILE
from pipeline.rundir.runs import RunDir

runner = CliRunner()
HOLDER = textwrap.dedent("""
    import sys
    from pipeline.rundir.runs import RunDir
    with RunDir(sys.argv[1]).writing("pipeline train --run " + sys.argv[1]):
        print("holding", flush=True)
        sys.stdin.readline()  # hold until the test says so (or kills us)
""")
ROOT = str(Path(__file__).parents[1])


def env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}


@pytest.fixture()
def holder(tmp_path):
    """Another process holding the lock of a run with train/, qat/ and export/."""
    run = make_tiny_exported_run(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run.root)], env=env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"  # it has the lock: no sleeping, no race
    yield run, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1, result.output
    return lines[0]


def test_second_writer_is_refused_naming_the_holder(holder, tmp_path):
    run, proc = holder
    data = write_tiny_dataset(tmp_path / "data")
    before = run.manifest_path.read_bytes()
    commands = [["train", "--data", str(data), "--run", str(run.root), "--image-size", "32"],
                ["quantize", "--run", str(run.root)],
                ["benchmark", "--run", str(run.root), "--quick"],
                ["report", "--run", str(run.root)]]
    for command in commands:
        line = one_line(runner.invoke(app, command))
        assert line.startswith(f"error: {run.root} is being written by another command: "
                               f"pid {proc.pid} (pipeline train --run {run.root}), since "), line
    assert run.manifest_path.read_bytes() == before and not (run.root / "report").exists()
    # Readers need no lock: they read through the manifest while the writer works.
    image = sorted((data / "images").iterdir())[0]
    assert runner.invoke(app, ["predict", str(image), "--model", str(run.root)]).exit_code == 0
    out = tmp_path / "page.html"  # a report written elsewhere only reads the run
    assert runner.invoke(app, ["report", "--run", str(run.root), "--out", str(out)]).exit_code == 0


def test_a_killed_holder_leaves_no_lock(holder):
    run, proc = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with RunDir(run.root).writing():  # the kernel released it with the dead process
        assert (run.root / LOCK_FILE).read_text().count(str(os.getpid())) == 1


def test_two_real_train_processes_on_one_run(tmp_path):
    """Two `pipeline train` processes: the first trains, the second stops at once naming it."""
    data = write_tiny_dataset(tmp_path / "data")
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--run", str(run), "--image-size", "32",
            "--epochs", "400", "--batch-size", "12", "--pretrained", "none"]
    first = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], env=env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = run / LOCK_FILE
        deadline = time.monotonic() + 120
        while str(first.pid) not in (lock.read_text() if lock.exists() else ""):
            assert first.poll() is None and time.monotonic() < deadline, "first never locked"
            time.sleep(0.1)  # waiting for a state (the lock record), not guessing a duration
        second = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env(),
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [second.stderr.strip()]
        assert f"pid {first.pid} (pipeline train --data" in second.stderr
        assert first.poll() is None  # the first goes on, untouched
    finally:
        first.kill()
        first.wait()
    assert not (run / "manifest.json").exists()  # killed before publishing: nothing recorded
