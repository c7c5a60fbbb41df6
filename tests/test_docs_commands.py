"""Every `pipeline ...` command written in the README, docs/*.md and the Makefile names a
command that exists and only options that command has (issue 20: "every command in the docs
runs"). Each command path is also asked for its --help through the real CLI. The commands that
do the work run elsewhere: `make demo` and the end-to-end tests."""
import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli import app

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", ROOT / "Makefile", *sorted((ROOT / "docs").glob("*.md"))]
# `pipeline` at the start of a code span or line, after an optional venv / make prefix.
START = re.compile(r"(?:^|`|\s)(?:\.venv/bin/|\$\(BIN\)/)?"
                   r"(pipeline (?:[a-z][a-z-]*(?=[\s`]|$)|--)[^`\n]*)", re.M)


def commands_in(text: str) -> list[str]:
    text = re.sub(r"\\\n\s*", " ", text)  # shell line continuations
    found = []
    for match in START.finditer(text):
        command = match.group(1).split("  #")[0].split(" # ")[0]
        found.append(command.replace("[", " ").replace("]", " ").strip())
    return found


def all_commands() -> list[tuple[str, str]]:
    return [(path.name, command) for path in FILES
            for command in commands_in(path.read_text(encoding="utf-8"))]


def resolve(words: list[str]) -> tuple[object, list[str], list[str]]:
    """(the click command the words name, its path, the words after it)."""
    command, path = typer.main.get_command(app), []
    while words and is_group(command) and words[0] in command.commands:
        command = command.commands[words[0]]
        path.append(words.pop(0))
    return command, path, words


def is_group(command) -> bool:
    return hasattr(command, "commands")  # typer vendors click: no click import to check by


def options_of(command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(param.opts)
        names.update(param.secondary_opts)
    return names


def words_of(command: str) -> list[str]:
    try:
        return shlex.split(command)[1:]
    except ValueError:  # an unbalanced quote in prose: its words are still checkable
        return command.split()[1:]


def test_the_docs_name_many_commands():
    """The extraction itself: it must find the README's quick tour and the Makefile's job."""
    found = all_commands()
    assert len(found) >= 40, found
    assert ("Makefile", "pipeline benchmark --run $(REAL_RUN) --quick") in found
    assert any(c.startswith("pipeline export --run") for _, c in found)


@pytest.mark.parametrize("where, command", all_commands())
def test_command_and_options_exist(where, command):
    cmd, path, rest = resolve(words_of(command))
    if not path:  # the program's own options: `pipeline --help`, `pipeline --version`
        assert rest and all(w in options_of(cmd) for w in rest), f"{where}: `{command}`"
        return
    assert not is_group(cmd), f"{where}: `{command}`: a group, not a command"
    unknown = [w.split("=")[0] for w in rest
               if w.startswith("--") and w.split("=")[0] not in options_of(cmd)]
    assert not unknown, f"{where}: `{command}`: `pipeline {' '.join(path)}` has no {unknown}"


def test_every_documented_command_answers_help():
    paths = sorted({tuple(resolve(words_of(c))[1]) for _, c in all_commands()} - {()})
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, (path, result.output)
