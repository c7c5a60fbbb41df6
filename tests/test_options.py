"""One typed options class per command (pipeline/options/): the `pipeline` command's flags,
defaults and limits are generated from it, the API builds it, the command's module reads only
it."""
import importlib
import inspect
from dataclasses import MISSING, fields

import pytest
import typer
from typer.testing import CliRunner

from pipeline import api
from pipeline.cli import app
from pipeline import options as opts
from pipeline.core.errors import PipelineError
from pipeline.modelfile.variants import VARIANTS
from pipeline.training.backbones import BACKBONES, DEFAULT_ARCH

TOP = typer.main.get_command(app).commands


def command_of(cls):
    """The click command of an options class: `data split` is `split` of the `data` group."""
    *group, name = cls.stage.split()
    return (TOP[group[0]].commands if group else TOP)[name]


def cli_default(field):
    if field.default is MISSING:
        return None
    if field.metadata.get("csv") and field.default is not None:
        return ",".join(map(str, field.default))
    return field.default


@pytest.mark.parametrize("cls", opts.COMMANDS, ids=lambda c: c.stage)
def test_every_flag_and_default_comes_from_the_options_class(cls):
    params = {p.name: p for p in command_of(cls).params if p.name != "help"}
    assert set(params) == {f.name for f in fields(cls)}
    for f in fields(cls):
        param = params[f.name]
        assert param.required == (f.default is MISSING), f.name
        default = param.default.value if hasattr(param.default, "value") else param.default
        assert default == cli_default(f), f.name
        assert param.help.startswith(f.metadata["help"].rstrip(".")), f.name


@pytest.mark.parametrize("cls", opts.COMMANDS, ids=lambda c: c.stage)
def test_each_command_reads_one_options_object_in_the_module_its_name_says(cls):
    run = importlib.import_module(cls.module).run
    assert list(inspect.signature(run).parameters) == ["o"], cls.module
    *_, name = cls.stage.split()
    assert cls.module.rsplit(".", 1)[1] == name.replace("-", "_"), cls.module


def test_every_command_is_built_from_an_options_class_and_has_an_api_function():
    listed = {(group, name) for group, cmd in TOP.items()
              for name in (cmd.commands if hasattr(cmd, "commands") else [None])}
    declared = {tuple(c.stage.split()) if " " in c.stage else (c.stage, None)
                for c in opts.COMMANDS}
    assert listed == declared
    for cls in opts.COMMANDS:
        assert callable(getattr(api, cls.stage.replace(" ", "_").replace("-", "_"))), cls.stage


def test_a_failed_check_is_a_non_zero_exit(tmp_path):
    bad = tmp_path / "labels.txt"
    bad.write_text("missing.jpg, 0, 0\n")
    result = CliRunner().invoke(app, ["data", "check", str(bad)])
    assert result.exit_code == 1 and "missing.jpg" in result.output
    assert api.data_check(bad) is False


def test_registry_choices_and_defaults_are_the_registries(tmp_path):
    params = {p.name: p for p in TOP["train"].params}
    refused = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--run",
                                       str(tmp_path / "r"), "--arch", "nope"])
    assert refused.exit_code == 2
    assert all(name in refused.output for name in BACKBONES)
    assert DEFAULT_ARCH in BACKBONES and params["arch"].default == DEFAULT_ARCH
    help_text = next(p.help for p in TOP["export"].params if p.name == "variants")
    assert ", ".join(v.key for v in VARIANTS) in " ".join(help_text.split())
    assert f"default: {opts.FREEZE_EPOCHS} when pretrained" in params["freeze_epochs"].help


@pytest.mark.parametrize("values, message", [
    ({"epoch": 3}, "unknown option 'epoch' of train"),
    ({"epochs": 0}, "--epochs 0: must be at least 1"),
    ({"lr": 0}, "--lr 0.0: must be above 0"),
    ({"image_size": "big"}, "--image-size 'big': expected a whole number"),
    ({"image_size": 2.5}, "--image-size 2.5: expected a whole number"),
    ({"mode": "sideways"}, "--mode 'sideways': choose from joint, alternating"),
    ({"none_weight": 11}, "--none-weight 11.0: must be at most 10"),
    ({"resume": "yes"}, "--resume 'yes': expected true or false"),
])
def test_api_refuses_bad_options_in_one_line_before_anything(tmp_path, values, message):
    with pytest.raises(PipelineError) as caught:
        api.train(tmp_path / "data", tmp_path / "run", **values)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "run").exists()


def test_text_and_python_values_give_the_same_options(tmp_path):
    a = opts.TrainOptions.build(data=str(tmp_path), run="r", tasks="type, color", epochs="3")
    b = opts.TrainOptions.build(data=tmp_path, run="r", tasks=["type", "color"], epochs=3)
    assert a == b and a.tasks == ["type", "color"] and a.epochs == 3
    assert opts.BenchmarkOptions.build(run="r", threads="2,1").threads == (2, 1)
    with pytest.raises(PipelineError, match="--threads 0: must be at least 1"):
        opts.BenchmarkOptions.build(run="r", threads=[1, 0])
    with pytest.raises(PipelineError, match="train: --run is required"):
        opts.TrainOptions.build(data="d")
    assert opts.TrainOptions.build(data="d", run="r").to_json()["run"] == "r"


def test_cli_limits_are_the_apis_one_line_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--data", str(tmp_path), "--run", str(tmp_path / "r"),
                                 "--epochs", "0"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: --epochs 0: must be at least 1"
    epochs = next(p for p in TOP["train"].params if p.name == "epochs")
    assert epochs.help.endswith("[at least 1]")
    result = runner.invoke(app, ["quantize", "--run", str(tmp_path / "r"), "--lr", "0"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: --lr 0.0: must be above 0"
    result = runner.invoke(app, ["benchmark", "--run", str(tmp_path), "--threads", "two"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: --threads 'two': expected a whole number"
