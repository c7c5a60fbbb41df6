"""--distribute: TF_CONFIG checks, a worker that never comes, two workers on localhost that
end with byte-identical models, and the distributed step equal to the one-device step."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.training import cluster
from pipeline.core.errors import PipelineError
from pipeline.rundir.lock import LOCK_FILE
from pipeline.data import pack
from test_train import make_split_folder

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = [sys.executable, "-m", "pipeline.cli"]


def config(workers, index=0, kind="worker", chief=None):
    jobs = {"worker": workers, **({"chief": chief} if chief else {})}
    return json.dumps({"cluster": jobs, "task": {"type": kind, "index": index}})


# ---- TF_CONFIG, checked before TensorFlow -------------------------------------------------

def test_tf_config_roles():
    two = cluster.parse(config(["a:1", "b:2"], 1))
    assert (two.num_workers, two.worker_id, two.is_chief) == (2, 1, False)
    with_chief = cluster.parse(config(["b:2", "c:3"], 0, chief=["a:1"]))
    assert (with_chief.num_workers, with_chief.worker_id, with_chief.leader) == \
        (3, 1, "/job:chief/replica:0/task:0")
    assert cluster.parse(config(["b:2"], 0, kind="chief", chief=["a:1"])).is_chief


@pytest.mark.parametrize("text,message", [
    ("", "needs TF_CONFIG"),
    ("{not json", "not valid JSON"),
    ('["worker"]', "expected an object"),
    (config(["a:1", "b:2"], 2), "task index 2 is out of range"),
    (config(["a:1"], 0, kind="evaluator"), "task type 'evaluator'"),
    (config(["a:1", "a:1"]), "same address"),
    (config(["a"]), "is not \"host:port\""),
    (config(["a:99999"]), "is not \"host:port\""),
    (json.dumps({"cluster": {"worker": ["a:1"], "ps": ["b:2"]},
                 "task": {"type": "worker", "index": 0}}), "job 'ps'"),
    (json.dumps({"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}),
     "non-empty list"),
    (json.dumps({"cluster": {"worker": ["a:1"]}}), "\"task\" must be an object"),
])
def test_malformed_tf_config_is_one_line(text, message):
    with pytest.raises(PipelineError, match=re.escape(message)):
        cluster.from_environment({"TF_CONFIG": text})


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    data = make_split_folder(root / "data", per_split=(16, 6, 6))
    pack.make(data, root / "packed", 32, 100)
    return root / "packed"


def test_malformed_tf_config_leaves_the_run_alone(packed, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text('{"stages": {}}')
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": 7}')
    result = CliRunner().invoke(app, ["train", "--data", str(packed), "--run", str(run),
                                      "--image-size", "32", "--distribute", "multi-worker"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "\"task\" must be an object" in result.output
    assert sorted(p.name for p in run.iterdir()) == ["manifest.json"]


# ---- real processes ---------------------------------------------------------------------------

def start_workers(count, args, tmp_path, workers=None):
    """`pipeline train` processes, one per worker of a localhost cluster of `count`."""
    tmp_path.mkdir(exist_ok=True)
    addresses = cluster.localhost_addresses(count)
    procs = []
    for index in workers if workers is not None else range(count):
        scratch = tmp_path / f"tmp{index}"  # where a non-chief keeps its checkpoints
        scratch.mkdir()
        env = {**os.environ, "TF_CONFIG": config(addresses, index), "TMPDIR": str(scratch),
               "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
        procs.append(subprocess.Popen(PIPELINE + ["train", *map(str, args)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
    return procs


def nothing_published(run: Path) -> bool:
    """The chief holds the run's lock from before TensorFlow starts; nothing else is there."""
    return not run.exists() or {p.name for p in run.iterdir()} <= {LOCK_FILE}


def finish(procs, timeout=240):
    return [(p.wait(timeout=timeout), p.stdout.read()) for p in procs]


def test_a_worker_that_never_comes_is_a_time_out(packed, tmp_path):
    args = ["--data", packed, "--run", tmp_path / "run", "--image-size", 32,
            "--distribute", "multi-worker", "--cluster-timeout", 3]
    began = time.monotonic()
    [(code, output)] = finish(start_workers(2, args, tmp_path, workers=[0]), timeout=120)
    assert code != 0 and "the cluster did not form within 3 s" in output
    assert time.monotonic() - began < 60 and nothing_published(tmp_path / "run")


def check_one_model(results, run, tmp_path, epochs):
    for code, output in results:
        assert code == 0, output[-3000:]
    digests = [re.findall(r"final weights sha256 ([0-9a-f]{64})", out) for _, out in results]
    assert len(digests[0]) == 1 and digests[0] == digests[1]  # max abs difference 0
    assert "chief 0 of 2" in results[0][1] and "worker 1 of 2" in results[1][1]
    stage = json.loads((run / "manifest.json").read_text())["stages"]["train"]
    assert stage["settings"]["distribute"] == "multi-worker"
    assert stage["settings"]["replicas"] == 2 and stage["settings"]["input"] == "stream"
    assert stage["metrics"]["epochs"] == epochs and (run / "train" / "model.h5").is_file()
    assert not list((tmp_path / "tmp1").iterdir())  # the worker's checkpoints: gone
    assert not (run / ".train.partial").exists()


@pytest.mark.slow
def test_two_workers_lose_one_resume_and_train_one_model(packed, tmp_path):
    """Two processes on localhost. Worker 1 is killed after the first checkpoint: the chief
    stops with one line and keeps its checkpoints; both restarted with --resume finish with
    byte-identical weights, the chief writing the run and the worker only a temporary folder
    that it removes (one test for both: a cluster that trains is what resumes)."""
    run = tmp_path / "run"
    args = ["--data", packed, "--run", run, "--image-size", 32, "--epochs", 3,
            "--batch-size", 4, "--distribute", "multi-worker", "--pretrained", "none"]
    chief, worker = start_workers(2, args, tmp_path)
    state = run / ".train.partial" / "checkpoints" / "state.json"
    end = time.monotonic() + 180
    while not state.exists() and time.monotonic() < end and chief.poll() is None:
        time.sleep(0.05)
    worker.kill()
    [(code, output)] = finish([chief])
    assert code == 1 and "lost contact with another worker" in output
    assert "--resume" in output.splitlines()[-1] and state.exists()
    assert not (run / "train").exists() and not (run / "manifest.json").exists()

    results = finish(start_workers(2, args + ["--resume"], tmp_path / "again"))
    assert all("resuming after epoch" in out for _, out in results)
    check_one_model(results, run, tmp_path / "again", epochs=3)


def test_workers_with_different_command_lines_stop(packed, tmp_path):
    addresses = cluster.localhost_addresses(2)
    procs = []
    for index, epochs in ((0, 2), (1, 3)):
        env = {**os.environ, "TF_CONFIG": config(addresses, index), "PYTHONPATH": str(ROOT)}
        procs.append(subprocess.Popen(
            PIPELINE + ["train", "--data", str(packed), "--run", str(tmp_path / "run"),
                        "--image-size", "32", "--epochs", str(epochs),
                        "--distribute", "multi-worker"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for code, output in finish(procs):
        assert code == 1 and "every worker must run the same command line" in output
        assert "epochs" in output
    assert nothing_published(tmp_path / "run")


def test_replicas_take_the_same_steps_as_one_device():
    """Two replicas (MirroredStrategy on two logical CPUs) against one device on the same
    global batches: joint, uncertainty-weighted and alternating (scripts/check_multiworker)."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_multiworker.py"),
                          "--mirrored", "--steps", "4"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "OK: losses within" in out.stdout


def test_mirrored_alternating_through_the_cli(packed, tmp_path):
    """--distribute mirrored on this machine (one replica: the CPU) with the per-head steps
    of alternating mode, from memory."""
    run = tmp_path / "run"
    result = CliRunner().invoke(app, [str(a) for a in (
        "train", "--data", packed, "--input", "memory", "--run", run, "--image-size", 32,
        "--epochs", 1, "--batch-size", 4, "--mode", "alternating", "--distribute", "mirrored",
        "--pretrained", "none")])
    assert result.exit_code == 0, result.output[-2000:]
    settings = json.loads((run / "manifest.json").read_text())["stages"]["train"]["settings"]
    assert (settings["distribute"], settings["input"], settings["mode"]) == \
        ("mirrored", "memory", "alternating")
