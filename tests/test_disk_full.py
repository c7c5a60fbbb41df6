"""A full disk (or any OSError while writing) is one line naming what was being written; the
partial files go, and the run stays as it was. ENOSPC is injected where it is raised in real
life (the write call, the manifest's replace, h5py's save); where the test can mount a small
tmpfs (root, Linux), `pipeline quantize` also meets a really full file system."""
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_runs import make_tiny_exported_run, write_tiny_dataset
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.core import io as core_io
from pipeline.core.errors import PipelineError
from pipeline.rundir.runs import RunDir

runner = CliRunner()


def full(path="") -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), *([str(path)] if path else []))


def fingerprint(root: Path) -> dict:
    """Every file under the run (links followed) with its content hash."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def one_line(result, *fragments) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("error")]
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_full_disk_inside_a_stage(tmp_path):
    run = RunDir(tmp_path / "r")
    with run.stage("train") as w:
        (w.dir / "model.h5").write_text("v1")
    before = fingerprint(run.root)
    with pytest.raises(PipelineError) as caught:
        with run.stage("train") as w:
            (w.dir / "model.h5").write_text("half")
            raise full()  # f.write() raises without a file name
    assert str(caught.value) == (f"no space left on device while writing {run.partial('train')}"
                                 "; the run's earlier outputs are unchanged")
    assert fingerprint(run.root) == before and not run.partial("train").exists()


def test_full_disk_while_writing_the_manifest_publishes_nothing(tmp_path, monkeypatch):
    run = RunDir(tmp_path / "r")
    with run.stage("train") as w:
        (w.dir / "model.h5").write_text("v1")
    before = fingerprint(run.root)
    real = core_io.atomic_write_text

    def manifest_fails(path, text):
        if Path(path).name == "manifest.json":
            real(path.with_name("manifest.partial.json"), text[:10])  # half written, then
            Path(path.with_name("manifest.partial.json")).unlink()
            raise full(path)
        return real(path, text)

    monkeypatch.setattr(core_io, "atomic_write_text", manifest_fails)
    with pytest.raises(PipelineError, match="no space left on device while writing .*manifest"):
        with run.stage("train") as w:
            (w.dir / "model.h5").write_text("v2")
    assert fingerprint(run.root) == before
    assert sorted(p.name for p in run.root.iterdir()) == sorted(
        [".lock", ".train.v1", "manifest.json", "train"])


def test_full_disk_during_quantize(tmp_path, monkeypatch):
    """h5py reports a full disk in its message only (errno None), as in real life."""
    from pipeline.training import checkpoints

    run = make_tiny_exported_run(tmp_path)
    before = fingerprint(run.root)

    def h5py_full(net, path):
        Path(path).write_bytes(b"\x89HDF\r\n\x1a\n half a model")
        raise OSError("Unable to synchronously write data (file write failed: time = Sat Nov 29"
                      ", filename = 'model.h5', errno = 28, error message = 'No space left on "
                      "device', buf = 0x5f, total write size = 2304, bytes this sub-write = "
                      "2304, offset = 0)")

    monkeypatch.setattr(checkpoints, "save_h5", h5py_full)
    result = runner.invoke(app, ["quantize", "--run", str(run.root), "--epochs", "0"])
    one_line(result, "no space left on device while writing", ".qat.partial",
             "the run's earlier outputs are unchanged")
    assert fingerprint(run.root) == before
    assert not list(run.root.glob(".*.partial"))
    RunDir(run.root).verify("export")


def test_full_disk_during_training_keeps_only_the_last_checkpoint(tmp_path, monkeypatch):
    from pipeline.training import checkpoints

    data = write_tiny_dataset(tmp_path / "data")
    args = ["train", "--data", str(data), "--run", str(tmp_path / "run"), "--image-size", "32",
            "--epochs", "3", "--batch-size", "12", "--pretrained", "none"]
    real, calls = checkpoints.write_json, []

    def state_fails_at_epoch_2(path, value):
        calls.append(Path(path).name)
        if calls.count("state.json") == 2:  # epoch 2's checkpoint is written, its state not
            raise full(path)
        return real(path, value)

    monkeypatch.setattr(checkpoints, "write_json", state_fails_at_epoch_2)
    line = one_line(runner.invoke(app, args), "no space left on device while writing",
                    "checkpoints/state.json", "kept epoch 1's checkpoint", "--resume")
    partial = tmp_path / "run" / ".train.partial"
    kept = sorted(p.relative_to(partial).as_posix() for p in partial.rglob("*") if p.is_file())
    state = json.loads((partial / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1 and all(k.startswith("checkpoints/") for k in kept), kept
    assert not any("epoch-2" in k for k in kept) and "manifest.json" not in line
    monkeypatch.setattr(checkpoints, "write_json", real)  # space freed: resume finishes the run
    result = runner.invoke(app, args + ["--resume"])
    assert result.exit_code == 0, result.output
    assert "resuming after epoch 1 of 3" in result.output and RunDir(tmp_path / "run").has("train")


def test_full_disk_after_the_last_epoch_keeps_the_trained_model(tmp_path, monkeypatch):
    """Training ended (the best epoch's file already moved to model.h5), then the disk filled
    while the scores were written: --resume must find the model, not lose it."""
    from pipeline.training import train as train_module

    data = write_tiny_dataset(tmp_path / "data")
    args = ["train", "--data", str(data), "--run", str(tmp_path / "run"), "--image-size", "32",
            "--epochs", "2", "--batch-size", "12", "--pretrained", "none"]
    real = train_module.write_json

    def metrics_fail(path, value):
        if Path(path).name == "metrics.json":
            raise full(path)
        return real(path, value)

    monkeypatch.setattr(train_module, "write_json", metrics_fail)
    one_line(runner.invoke(app, args), "no space left on device while writing", "metrics.json",
             "kept epoch 2's checkpoint", "--resume")
    assert (tmp_path / "run" / ".train.partial" / "model.h5").is_file()
    monkeypatch.setattr(train_module, "write_json", real)
    result = runner.invoke(app, args + ["--resume"])
    assert result.exit_code == 0, result.output
    assert RunDir(tmp_path / "run").has("train")


def test_other_write_errors_are_one_line_too(tmp_path):
    """Not a full disk: a folder that cannot be made (a file is in the way)."""
    from helpers_runs import draw_flower

    (tmp_path / "photos" / "rose_red").mkdir(parents=True)
    draw_flower("rose", "red").save(tmp_path / "photos" / "rose_red" / "a.png")
    (tmp_path / "file").write_text("a file, not a folder")
    result = runner.invoke(app, ["data", "from-folders", str(tmp_path / "photos"), "--out",
                                 str(tmp_path / "file" / "labels.txt")])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {tmp_path / 'file'}") and "Traceback" not in result.output


def test_a_really_full_file_system(tmp_path):
    """`pipeline quantize` on a tmpfs with room for the QAT model but not the export: TF and
    h5py write there themselves, so this checks what their real errors look like."""
    mount = tmp_path / "fs"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs",
                                            str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root); the injected tests cover it")
    try:
        run = make_tiny_exported_run(mount)
        manifest = run.manifest()
        manifest["stages"]["train"]["settings"]["data"] = str(mount / "run_data")
        run.manifest_path.write_text(json.dumps(manifest))
        before = fingerprint(run.root)
        free = shutil.disk_usage(mount).free
        ballast = free - 6_000_000  # the QAT .h5 fits (~4 MB), the four .tflite (~7 MB) do not
        assert ballast > 0
        (mount / "ballast").write_bytes(b"\0" * ballast)
        free = shutil.disk_usage(mount).free
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
        out = subprocess.run([sys.executable, "-m", "pipeline.cli", "quantize", "--run",
                              str(run.root), "--epochs", "0"], capture_output=True, text=True,
                             env=env, timeout=300)
        errors = [line for line in out.stderr.splitlines() if line.startswith("error")]
        assert out.returncode == 1 and len(errors) == 1, out.stderr[-2000:]
        assert errors[0].startswith("error: no space left on device while writing "), errors
        assert "Traceback" not in out.stderr
        assert fingerprint(run.root) == before and not list(run.root.glob(".*.partial"))
        assert shutil.disk_usage(mount).free == free  # nothing left behind
        RunDir(run.root).verify("export")
    finally:
        subprocess.run(["umount", str(mount)], check=True)
