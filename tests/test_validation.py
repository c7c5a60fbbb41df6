"""One validation path: every stage that reads a label file accepts exactly what
`pipeline data check` accepts (the same function, `core.labels.validate_label_file`)."""
import tempfile
from pathlib import Path

from helpers_runs import draw_flower, export_known_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.core.errors import PipelineError
from pipeline.heads.schema import FLOWER_HEADS
from pipeline.data.labels import load_label_file
from pipeline.data import check as checker

runner = CliRunner()
NAMES = ("a.png", "b.png", "sub/../a.png", "missing.png", "empty.png")


def repeated_image_with_other_labels(folder: Path) -> Path:
    """A valid split folder whose train.txt lists one image twice, with other labels."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (kind, colour) in enumerate([("rose", "red"), ("daisy", "white")] * 3):
        draw_flower(kind, colour, shift=i % 3).save(folder / f"{i}.png")
        lines.append(f"{i}.png, {int(kind == 'daisy')}, {0 if colour == 'red' else 2}")
    for split in ("train", "val", "test"):
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    with open(folder / "train.txt", "a") as f:
        f.write("0.png, 1, 1\n")  # 0.png again: a daisy now, and pink
    return folder


def test_train_refuses_what_data_check_refuses(tmp_path):
    data = repeated_image_with_other_labels(tmp_path / "data")
    check = runner.invoke(app, ["data", "check", str(data / "train.txt")])
    assert check.exit_code == 1 and "already listed on line 1 with other labels" in check.output
    train = runner.invoke(app, ["train", "--data", str(data), "--run", str(tmp_path / "run"),
                                "--image-size", "32", "--epochs", "1"])
    assert train.exit_code == 1
    assert train.output.strip() == f"error: {data / 'train.txt'}:7: {data / '0.png'} is " \
                                   "already listed on line 1 with other labels"
    assert not (tmp_path / "run").exists()  # refused before the run directory was touched
    folder = tmp_path / "model"
    export_known_model(folder, FLOWER_HEADS, size=8, variants=("float32",))
    evaluate = runner.invoke(app, ["evaluate", "--model", str(folder / "model_float32.tflite"),
                                   "--labels", str(data / "train.txt")])
    assert evaluate.exit_code == 1 and "with other labels" in evaluate.output


def test_the_same_line_twice_counts_once_everywhere(tmp_path):
    data = repeated_image_with_other_labels(tmp_path / "data")
    (data / "val.txt").write_text((data / "val.txt").read_text() + "1.png, 1, 2\n")
    assert runner.invoke(app, ["data", "check", str(data / "val.txt")]).exit_code == 0
    assert len(load_label_file(data / "val.txt")) == 6  # a warning, and the image once


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(NAMES), st.integers(-2, 3), st.integers(-2, 3)),
                max_size=6))
def test_any_file_same_verdict_as_data_check(rows):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "sub").mkdir()
        draw_flower("rose", "red").save(folder / "a.png")
        draw_flower("daisy", "pink").save(folder / "b.png")
        (folder / "empty.png").write_bytes(b"")
        path = folder / "labels.txt"
        path.write_text("".join(f"{name}, {t}, {c}\n" for name, t, c in rows))
        checked = checker.check(path)
        try:
            load_label_file(path)
            loaded = True
        except PipelineError:
            loaded = False
        assert checked == loaded
