"""The layout as rules: no import cycles, layers that only look down, short modules.

The table is the data flow. At the bottom what every part shares (core: errors, crash-safe
writes, the model's settings, the TensorFlow import); then the heads schema; the data formats
(label files, negatives, packs, images), which need the heads; the run directory, which holds
both; the model file (.tflite + model.json), read and written in one package; then the stages
that make and use those artefacts; the Python API and the command line on top.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "pipeline"
GENERATED = {"pipeline.modelfile.metadata_fbs.metadata_schema_generated"}
ARTEFACTS = {"heads", "data", "rundir", "modelfile"}
# What each part may import from the project (besides itself and pipeline.core).
# "" is the package's own __init__ (its version).
ALLOWED = {
    "core": set(),
    "heads": set(),
    "data": {"heads"},
    "rundir": {"heads", "data"},
    "modelfile": {"heads", "data", "rundir", ""},
    "options": {"modelfile.variants"},  # data only, shared by the CLI and pipeline.api
    "figures": set(),
    "training": ARTEFACTS - {"modelfile"} | {"options"},
    "deploy": ARTEFACTS | {"options"},
    "export": ARTEFACTS | {"options", "training", "deploy.evaluate"},
    "bench": ARTEFACTS | {"options", "figures", "training", "export", "deploy"},
    "report": ARTEFACTS | {"options", "figures", "deploy", ""},
    "web": {"heads", "rundir"},
}
# The phone-side runtime, the report, the page and the model-file readers: LiteRT only.
NO_TENSORFLOW = ("deploy", "report", "web", "modelfile")


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in GENERATED:
            found[name] = path
    return found


def imports(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (lazy imports count too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: {m for m in imports(path) if m in mods and m != name}
            for name, path in mods.items()}


def test_no_import_cycles():
    edges, state, cycles = graph(), {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if nxt.startswith(node + "."):
                continue  # a package importing its own submodule is not a cycle
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_parts_only_import_what_they_may(part):
    bad = []
    for name, targets in graph().items():
        if not name.startswith(f"pipeline.{part}"):
            continue
        for target in targets:
            other = target.split(".")[1] if target.count(".") else ""
            allowed = {part, "core", ""} | ALLOWED[part]
            if other not in allowed and ".".join(target.split(".")[1:3]) not in allowed:
                bad.append(f"{name} -> {target}")
    assert not bad, bad


@pytest.mark.parametrize("part", NO_TENSORFLOW)
def test_deploy_and_report_never_name_tensorflow(part):
    heavy = ("tensorflow", "tf_keras", "tensorflow_model_optimization", "pipeline.core.tfcompat")
    bad = [f"{path.name}: {m}" for path in (ROOT / part).rglob("*.py") for m in imports(path)
           if m.startswith(heavy)]
    assert not bad, bad


def test_modules_are_short():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text().splitlines())) > 300}
    assert not long, long


def test_only_the_heads_package_knows_the_kinds():
    """A stage asks a head's kind what it can do (one_class, declines, calibrated, ...); it
    never asks which kind it is, so a new kind is one module and one registry entry."""
    from pipeline.heads import kinds

    names = [f'"{name}"' for name in kinds.KINDS] + [f"'{name}'" for name in kinds.KINDS]
    bad = [f"{path.relative_to(ROOT)}: {word}" for path in ROOT.rglob("*.py")
           if "heads" not in path.relative_to(ROOT).parts[:1]
           for word in ["classifies", *names] if word in path.read_text()]
    assert not bad, bad
