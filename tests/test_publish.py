"""Publishing is atomic for every observer: an interrupt or a SIGKILL at every step of it leaves
the old run or the new one (never a mix), Ctrl-C after the switch says the publish completed,
and the next writer cleans up whatever was left.

The failures are injected at each call of the publishing steps (os.replace, os.symlink,
shutil.rmtree) in turn, never by timing.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline.rundir import publish
from pipeline.core.errors import PipelineError
from pipeline.rundir.runs import VERSION_DIR, RunDir

STEPS = ("replace", "symlink", "rmtree")  # what publishing does to the file system


def publish_quantize_like(run: RunDir, text: str) -> None:
    """Two stages published together, as `pipeline quantize` publishes qat/ and export/."""
    with run.stage("qat", {"v": text}) as qat:
        (qat.dir / "model.h5").write_text(f"qat {text}")
        with run.stage("export") as export:
            (export.dir / "model_int8.tflite").write_text(f"int8 {text}")
            (export.dir / "model.json").write_text(json.dumps({"v": text}))


def make_run(root: Path) -> RunDir:
    """train, qat and export published once (v1); then qat and export again (v2): so a third
    publish has a current, a retired and an older folder to handle."""
    run = RunDir(root)
    with run.stage("train") as w:
        (w.dir / "model.h5").write_text("train")
    publish_quantize_like(run, "v1")
    publish_quantize_like(run, "v2")
    return run


def seen_by_a_reader(root: Path) -> str:
    """What a reader gets now (no lock, no tidying): the qat/export generation, checked."""
    run = RunDir(root).snapshot()
    qat = run.file("qat", "model.h5").read_text().split()[1]
    export = run.file("export", "model_int8.tflite").read_text().split()[1]
    assert qat == export, "qat and export from different publishes"
    run.verify("train")
    return export


def assert_tidy(root: Path) -> None:
    """After the next writer: links name the manifest's folders, nothing else is left."""
    manifest = json.loads((root / "manifest.json").read_text())
    current = {name: e["dir"] for name, e in manifest["stages"].items()}
    for stage, folder in current.items():
        assert os.readlink(root / stage) == folder
    keep = set(current.values()) | set(manifest.get("retired", []))
    names = {p.name for p in root.iterdir()}
    assert names == keep | set(current) | {"manifest.json", ".lock"}, names


class Injector:
    """Counts the publishing steps; the `fail_at`-th one runs `action` instead."""

    def __init__(self, monkeypatch, fail_at: int, action):
        self.calls, self.fail_at, self.action = 0, fail_at, action
        for name in STEPS:
            owner = shutil if name == "rmtree" else os
            monkeypatch.setattr(owner, name, self.wrap(getattr(owner, name)))

    def wrap(self, real):
        def step(*args, **kwargs):
            self.calls += 1
            if self.calls == self.fail_at:
                self.action()
            return real(*args, **kwargs)
        return step


def raise_interrupt():
    raise KeyboardInterrupt


def test_interrupt_at_every_step_leaves_the_old_or_the_new_run(tmp_path, monkeypatch):
    template = make_run(tmp_path / "template").root
    outcomes, step = [], 0
    while True:
        step += 1
        root = tmp_path / f"run{step}"
        shutil.copytree(template, root, symlinks=True)
        with monkeypatch.context() as mp:
            injector = Injector(mp, step, raise_interrupt)
            try:
                publish_quantize_like(RunDir(root), "v3")
                outcome = "finished"
            except publish.PublishedInterrupt as exc:
                assert "interrupted after publishing qat, export" in str(exc)
                outcome = "completed, then said so"
            except KeyboardInterrupt:
                outcome = "rolled back"
        generation = seen_by_a_reader(root)
        expected = {"rolled back": "v2"}.get(outcome, "v3")
        assert generation == expected, (step, outcome)
        with RunDir(root).writing():  # the next command: recovers whatever was left
            pass
        assert_tidy(root)
        assert seen_by_a_reader(root) == expected
        assert (root / "export" / "model_int8.tflite").read_text() == f"int8 {expected}"
        outcomes.append(outcome)
        if injector.calls < step:  # the publish never reached this step: all covered
            break
    # Both sides of the switch were hit: rolled back before it, completed after it.
    print("outcomes by step:", outcomes)
    assert {"rolled back", "completed, then said so", "finished"} <= set(outcomes), outcomes


def test_ctrl_c_during_publish_is_held_until_the_publish_is_done(tmp_path, monkeypatch):
    run = make_run(tmp_path / "r")
    with monkeypatch.context() as mp:  # a real SIGINT at the first step of publishing
        Injector(mp, 1, lambda: os.kill(os.getpid(), signal.SIGINT))
        with pytest.raises(publish.PublishedInterrupt, match="complete and recorded"):
            publish_quantize_like(run, "v3")
    assert seen_by_a_reader(run.root) == "v3"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


KILLER = textwrap.dedent("""
    import os, shutil, signal, sys
    sys.path.insert(0, sys.argv[3])
    from test_publish import STEPS, publish_quantize_like
    from pipeline.rundir.runs import RunDir
    calls = [0]
    def wrap(real):
        def step(*args, **kwargs):
            calls[0] += 1
            if calls[0] == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return step
    for name in STEPS:
        owner = shutil if name == "rmtree" else os
        setattr(owner, name, wrap(getattr(owner, name)))
    publish_quantize_like(RunDir(sys.argv[1]), "v3")
    print("steps", calls[0])
""")


def test_sigkill_at_every_step_is_recovered_by_the_next_command(tmp_path):
    template = make_run(tmp_path / "template").root
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    step, killed = 0, []
    while True:
        step += 1
        root = tmp_path / f"run{step}"
        shutil.copytree(template, root, symlinks=True)
        out = subprocess.run([sys.executable, "-c", KILLER, str(root), str(step),
                              str(Path(__file__).parent)], capture_output=True, text=True,
                             env=env, timeout=60)
        if out.returncode == 0:  # the publish needed fewer steps: every one was covered
            assert out.stdout.startswith("steps")
            break
        assert out.returncode == -signal.SIGKILL, out.stderr
        generation = seen_by_a_reader(root)  # consistent even before any recovery
        assert generation in ("v2", "v3")
        with RunDir(root).writing():
            pass
        assert_tidy(root)
        assert (root / "export" / "model_int8.tflite").read_text() == f"int8 {generation}"
        killed.append(generation)
    print("killed at each step, reader saw:", killed)
    assert killed[0] == "v2" and killed[-1] == "v3", killed


def test_a_training_killed_while_publishing_goes_back_to_resume(tmp_path, capsys):
    """SIGKILL after `.train.partial` became `.train.v<N>` but before the manifest named it:
    the next writer puts the finished training back where `--resume` finds it."""
    run = make_run(tmp_path / "r")
    before = run.manifest_path.read_bytes()
    orphan = run.root / ".train.v99"
    (orphan / "checkpoints").mkdir(parents=True)
    (orphan / "checkpoints" / "state.json").write_text('{"epoch": 20}')
    (orphan / "model.h5").write_text("train, finished")
    (run.root / ".train.v98").mkdir()  # an older leftover without a checkpoint: deleted
    with run.writing():
        pass
    assert (run.partial("train") / "model.h5").read_text() == "train, finished"
    assert not orphan.exists() and not (run.root / ".train.v98").exists()
    assert run.manifest_path.read_bytes() == before
    assert "--resume" in capsys.readouterr().err


def test_failed_stage_publishes_nothing_and_leaves_no_partial(tmp_path):
    run = make_run(tmp_path / "r")
    before = run.manifest_path.read_bytes()
    with pytest.raises(RuntimeError):
        with run.stage("qat") as qat:
            (qat.dir / "model.h5").write_text("half")
            with run.stage("export") as export:
                (export.dir / "model_int8.tflite").write_text("half")
                raise RuntimeError("conversion failed")
    assert run.manifest_path.read_bytes() == before
    assert not list(run.root.glob(".*.partial"))


def test_export_made_from_a_replaced_training_is_refused(tmp_path):
    run = make_run(tmp_path / "r")
    assert run.entry("export")["from"] == {"train": run.entry("train")["id"]}
    # A writer that got past the lock (same process: the lock is re-entrant) retrains while
    # the export is being made: the export must not be published as current.
    with pytest.raises(PipelineError, match="'train' changed while this command made"):
        with run.stage("export") as export:
            (export.dir / "model_int8.tflite").write_text("int8 of the old model")
            with RunDir(run.root).stage("train") as w:
                (w.dir / "model.h5").write_text("train 2")
    assert not run.has("export")  # the retrain dropped it; the old-model export was refused
    # A manifest edited by hand to pair an export with another training: readers refuse it.
    publish_quantize_like(run, "v4")
    manifest = run.manifest()
    manifest["stages"]["train"]["id"] = "somethingelse"
    run.manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(PipelineError, match="made from an earlier 'train'.*pipeline quantize"):
        RunDir(run.root).require("export")


def test_retraining_drops_later_stages_and_their_link_at_the_same_instant(tmp_path):
    run = make_run(tmp_path / "r")
    old_export = run.path("export")
    with run.stage("train") as w:
        (w.dir / "model.h5").write_text("train 2")
    manifest = run.manifest()
    assert set(manifest["stages"]) == {"train"}
    assert not (run.root / "export").exists()  # no stale export/ under its usual name
    assert old_export.name in manifest["retired"]  # kept for readers still on it, one publish
    with run.stage("train") as w:
        (w.dir / "model.h5").write_text("train 3")
    assert not old_export.exists()


def test_an_old_run_with_real_stage_folders_is_moved_into_versions(tmp_path):
    root = tmp_path / "old"
    (root / "train").mkdir(parents=True)
    (root / "train" / "model.h5").write_text("old")
    (root / "export").mkdir()  # stale: the manifest does not record it
    (root / ".export.old").mkdir()
    (root / "manifest.json").write_text(json.dumps({"stages": {"train": {"outputs": {
        "train/model.h5": {"sha256": publish.sha256(root / "train" / "model.h5"), "bytes": 3}}}}}))
    assert RunDir(root).file("train", "model.h5").read_text() == "old"  # readable as it is
    with RunDir(root).writing():
        pass
    run = RunDir(root)
    assert VERSION_DIR.fullmatch(run.entry("train")["dir"])
    assert (root / "train" / "model.h5").read_text() == "old" and (root / "train").is_symlink()
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [".lock", "manifest.json", "train", run.entry("train")["dir"]])


def test_broken_manifest_is_one_line_for_readers_and_writers(tmp_path):
    run = make_run(tmp_path / "r")
    for text, fragment in (("{broken", "not valid JSON"), ("[1, 2]", "not a run manifest"),
                           ('{"stages": {"train": {"dir": "../../etc"}}}', "names the folder")):
        run.manifest_path.write_text(text)
        for action in (lambda: RunDir(run.root).require("train"),
                       lambda: RunDir(run.root).writing().__enter__()):
            with pytest.raises(PipelineError, match=fragment) as caught:
                action()
            assert "\n" not in str(caught.value)


KILL_TRAIN_AT_PUBLISH = textwrap.dedent("""
    import os, signal, sys
    real = os.replace
    def replace(src, dst, *args, **kwargs):
        real(src, dst, *args, **kwargs)
        if str(src).endswith(".train.partial"):  # renamed to .train.v<N>; manifest not yet
            os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace
    from pipeline.cli import app
    sys.argv = ["pipeline", *sys.argv[1:]]
    app()
""")


def test_real_training_killed_at_the_publish_instant_is_published_by_resume(tmp_path):
    from helpers_runs import write_tiny_dataset

    data = write_tiny_dataset(tmp_path / "data")
    args = ["train", "--data", str(data), "--run", str(tmp_path / "run"), "--image-size", "32",
            "--epochs", "2", "--batch-size", "12", "--pretrained", "none"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "TF_CPP_MIN_LOG_LEVEL": "3"}
    killed = subprocess.run([sys.executable, "-c", KILL_TRAIN_AT_PUBLISH, *args], env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (tmp_path / "run" / "manifest.json").exists()  # nothing was published
    resumed = subprocess.run([sys.executable, "-m", "pipeline.cli", *args, "--resume"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "stopped while publishing is back in .train.partial" in resumed.stderr
    assert "resuming after epoch 2 of 2" in resumed.stdout
    RunDir(tmp_path / "run").verify("train")
