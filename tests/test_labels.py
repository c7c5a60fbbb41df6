"""The label-file format: fuzzed parsing, a write/read round trip, and the stratified split."""
from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.errors import PipelineError
from pipeline.heads.schema import FLOWER_HEADS
from pipeline.data.labels import (LabelFileError, Problem, Sample, load_label_file, parse_text,
                                  read_label_file, split_samples, unique, write_label_file)

SOURCE = Path("/data/labels.txt")

# Lines that look like label lines, with the usual ways of getting them wrong.
field = st.one_of(st.integers(-3, 4).map(str), st.sampled_from(["", " ", "x", "1.0", "-1", "0x1",
                                                                "١", "+1", "1e3", "nan"]),
                  st.text(max_size=4))
line = st.one_of(
    st.lists(field, min_size=0, max_size=5).map(lambda fs: ", ".join(["img.jpg", *fs])),
    st.sampled_from(["", "   ", "# a comment", "#", "img.jpg, 0, 0", "a,b,c", ",,", "\t"]),
    st.text(max_size=30),
)
label_text = st.one_of(st.text(max_size=200),
                       st.lists(line, max_size=12).map("\n".join),
                       st.lists(line, max_size=6).map("\r\n".join))


def _check_result(samples: list[Sample], problems: list[Problem], text: str) -> None:
    lines = len(text.splitlines())
    for sample in samples:
        assert len(sample.labels) == len(FLOWER_HEADS)
        for value, head in zip(sample.labels, FLOWER_HEADS):
            assert value == -1 or 0 <= value < head.num_classes
        assert 1 <= sample.line <= lines
    for problem in problems:
        assert 0 <= problem.line <= lines and problem.reason
        assert "\n" not in str(problem)
    # a file gives images, or says why it gives none
    assert samples or any(not p.warning for p in problems)


@settings(max_examples=200, deadline=None)
@given(label_text)
def test_parse_text_never_raises_anything_else(text):
    samples, problems = parse_text(text, SOURCE, FLOWER_HEADS)
    _check_result(samples, problems, text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=120), label_text.map(lambda t: t.encode("utf-8"))))
def test_any_file_gives_samples_or_the_projects_own_error(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "labels.txt"
        path.write_bytes(data)
        samples, problems = read_label_file(path)
        assert samples or any(not p.warning for p in problems)
        try:
            loaded = load_label_file(path, images=False)
        except LabelFileError as exc:
            assert str(exc) and exc.problems
        else:  # the same validation as `data check`: an image listed twice counts once
            assert loaded == unique(samples, path)[0]


def test_valid_lines_parse_with_paths_relative_to_the_file():
    text = "# header\n\nimages/a.jpg, 0, 2\n /abs/b.png ,1,-1\nc.jpg, -1, 0\n"
    samples, problems = parse_text(text, SOURCE, FLOWER_HEADS)
    assert [(s.path, s.labels, s.line) for s in samples] == [
        (Path("/data/images/a.jpg"), (0, 2), 3), (Path("/abs/b.png"), (1, -1), 4),
        (Path("/data/c.jpg"), (-1, 0), 5)]
    assert problems == []


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b b", "c/d", "é"]),
                          st.integers(-1, 1), st.integers(-1, 2)), min_size=1, max_size=10))
def test_write_then_read_round_trip(rows):
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder).absolute()
        samples = [Sample(base / "images" / f"{name}{i}.jpg", (t, c), i + 1)
                   for i, (name, t, c) in enumerate(rows)]
        write_label_file(base / "sub" / "labels.txt", samples, header="made by a test")
        back, problems = read_label_file(base / "sub" / "labels.txt")
        assert [(s.path.resolve(), s.labels) for s in back] == \
            [(s.path.resolve(), s.labels) for s in samples]
        assert all(p.warning for p in problems)  # only "no label for any task" lines


# ---- split ----------------------------------------------------------------------------------

def _dataset(per_stratum: dict[tuple[int, int], int]) -> list[Sample]:
    return [Sample(Path(f"/d/{t}_{c}_{i}.jpg"), (t, c)) for (t, c), n in per_stratum.items()
            for i in range(n)]


STRATA = {(0, 0): 40, (0, 1): 48, (0, 2): 18, (0, -1): 154, (1, 1): 6, (1, 2): 216, (1, -1): 57}


def test_split_is_deterministic_and_seed_dependent():
    samples = _dataset(STRATA)
    first, again = split_samples(samples, seed=3), split_samples(list(reversed(samples)), seed=3)
    assert first == again  # same seed, same parts, whatever the input order
    assert split_samples(samples, seed=4)["train"] != first["train"]


def test_split_is_disjoint_and_complete():
    samples = _dataset(STRATA)
    parts = split_samples(samples, (0.6, 0.25, 0.15), seed=0)
    paths = [s.path for part in parts.values() for s in part]
    assert len(paths) == len(set(paths)) == len(samples)
    assert set(paths) == {s.path for s in samples}


def test_split_follows_the_ratios_in_every_stratum():
    samples = _dataset(STRATA)
    ratios = (0.6, 0.25, 0.15)
    parts = split_samples(samples, ratios, seed=1)
    for key, n in STRATA.items():  # -1 is a stratum of its own
        got = [Counter(s.labels for s in parts[name])[key] for name in ("train", "val", "test")]
        assert sum(got) == n
        for count, ratio in zip(got, ratios):
            assert abs(count - n * ratio) <= 1, (key, got)
    total = len(samples)
    assert [len(parts[n]) for n in ("train", "val", "test")] == pytest.approx(
        [total * r for r in ratios], abs=len(STRATA))


def test_split_of_a_tiny_stratum_keeps_its_images():
    parts = split_samples(_dataset({(1, 0): 1, (0, 2): 2}), seed=0)
    assert sum(len(p) for p in parts.values()) == 3


@pytest.mark.parametrize("ratios", [(0.5, 0.5), (0.7, 0.3, 0.1), (1.2, -0.1, -0.1)])
def test_split_rejects_bad_ratios(ratios):
    with pytest.raises(PipelineError, match="ratios"):
        split_samples(_dataset({(0, 0): 4}), ratios)
