"""Camera-size photos: the image loader before and after reduced-scale JPEG decoding.

    .venv/bin/python scripts/bench_loader.py --model artifacts/real --labels data/real/test.txt

Makes COUNT photos of 4032x3024 (or 3024x4032) in a temp folder by upscaling the label file's
real photos (bicubic, JPEG quality 92), then, in one run on the same files:
  1. parity: the loader's pixels against full decoding (mean / max absolute difference), the
     model's answers on both (share unchanged per head) and the test accuracy of each, on the
     real photos and on their 12-MP versions (in this process);
  2. `pipeline predict --json` of the old code (git archive of --old-ref, default the fork
     point from main) and of this tree, each in its own process: wall time and peak RSS
     (the kernel's ru_maxrss of that child), on the 12-MP photos and on the real photos;
  3. this tree's predict on MANY paths (links to the real photos) against 100 of them: peak RSS;
  4. --sweep: decode time and pixel error of other reduce gaps (Pillow draft) on the 12-MP set.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.heads.schema import MISSING  # noqa: E402
from pipeline.data.images import load_resized, open_rgb, resize  # noqa: E402
from pipeline.data.labels import load_label_file  # noqa: E402
from pipeline.figures.machine import cpu  # noqa: E402
from pipeline.deploy.evaluate import open_model  # noqa: E402
from pipeline.modelfile.runtime import resolve_model  # noqa: E402

CAMERA = (4032, 3024)


def make_photos(sources: list[Path], folder: Path, count: int) -> list[Path]:
    """COUNT camera-size JPEGs, upscaled from the sources in turn (landscape or portrait as
    the source is)."""
    folder.mkdir(parents=True, exist_ok=True)

    def one(i: int) -> Path:
        src, out = sources[i % len(sources)], folder / f"camera_{i:04d}.jpg"
        img = open_rgb(src)
        size = CAMERA if img.width >= img.height else CAMERA[::-1]
        img.resize(size, Image.BICUBIC).save(out, quality=92)
        return out
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return list(pool.map(one, range(count)))


def full_decode(path: Path, size: int) -> np.ndarray:
    """Yesterday's loader: the whole image decoded, then the same bilinear resize."""
    return resize(open_rgb(path), size)


def parity(model, heads, paths: list[Path], labels: np.ndarray, name: str) -> None:
    size = model.image_size
    diffs, answers = [], {"full": [], "loader": []}
    for path in paths:
        old, new = full_decode(path, size), load_resized(path, size)
        diffs.append(np.abs(old.astype(np.int16) - new))
        for key, pixels in (("full", old), ("loader", new)):
            out = model(pixels)
            answers[key].append([int(np.argmax(out[h.name])) for h in heads])
    full, new = np.array(answers["full"]), np.array(answers["loader"])
    d = np.stack(diffs)
    print(f"\n{name}: {len(paths)} photos at {size} px; |loader - full decode| mean "
          f"{d.mean():.3f}, max {d.max()} levels; {np.mean(d.max(axis=(1, 2, 3)) == 0):.0%} "
          "of photos identical")
    for j, head in enumerate(heads):
        known = labels[:, j] != MISSING
        acc = {k: np.mean(a[known, j] == labels[known, j]) for k, a in
               (("full", full), ("loader", new))}
        print(f"  {head.name}: answer unchanged on {np.mean(full[:, j] == new[:, j]):.2%}; "
              f"accuracy full {acc['full']:.4f}, loader {acc['loader']:.4f} "
              f"(n={known.sum()})")


def predict_cmd(tree: Path, inputs: list[str], model: Path) -> tuple[list[str], dict]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return [sys.executable, "-m", "pipeline.cli", "predict", *inputs, "--model", str(model),
            "--json"], env


# ru_maxrss of a child counts the pages it inherited at fork (Linux keeps the high-water mark
# across exec), and this process holds the photos: a small launcher forks the command instead.
LAUNCHER = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[2:]); "
            "_, s, u = os.wait4(p.pid, 0); open(sys.argv[1], 'w').write(str(u.ru_maxrss)); "
            "sys.exit(os.waitstatus_to_exitcode(s))")


def measure(cmd: list[str], env: dict, out: Path) -> dict:
    """Wall time and peak RSS (ru_maxrss of that process alone) of one command."""
    errors, peak = out.with_suffix(".err"), out.with_suffix(".maxrss")
    start = time.perf_counter()
    with open(out, "w") as stdout, open(errors, "w") as stderr:
        # cwd: not this tree, which `python -m` would put first on sys.path.
        code = subprocess.run([sys.executable, "-c", LAUNCHER, str(peak), *cmd], env=env,
                              stdout=stdout, stderr=stderr, cwd=out.parent).returncode
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"{' '.join(cmd[:5])}... failed:\n{errors.read_text()[-2000:]}")
    return {"wall_s": wall, "peak_mb": int(peak.read_text()) / 1024, "lines": out.read_text()}


def answers(lines: str) -> dict:
    out = {}
    for line in lines.splitlines():
        row = json.loads(line)
        out[row["file"]] = {h: p["label"] for h, p in row["predictions"].items()}
    return out


def compare(name: str, old: dict, new: dict) -> None:
    a, b = answers(old["lines"]), answers(new["lines"])
    same = np.mean([a[f] == b.get(f) for f in a])
    print(f"{name}: old {old['wall_s']:.2f} s, {old['peak_mb']:.0f} MB; new {new['wall_s']:.2f} "
          f"s, {new['peak_mb']:.0f} MB; speed-up x{old['wall_s'] / new['wall_s']:.2f}; "
          f"{len(b)}/{len(a)} answered, all heads unchanged on {same:.1%}")


def old_tree(ref: str, tmp: Path) -> Path:
    tree = tmp / "old"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "pipeline"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def sweep(paths: list[Path], size: int) -> None:
    """Pillow's draft at other gaps (the loader's rule with REDUCE_GAP = gap)."""
    print(f"\nreduce gap sweep, {len(paths)} 12-MP photos at {size} px (one thread):")
    refs = [full_decode(p, size) for p in paths]
    for gap in (None, 1, 2, 3, 4):
        start, diffs = time.perf_counter(), []
        for path, ref in zip(paths, refs):
            with Image.open(path) as img:
                if gap:
                    img.draft(None, (gap * size, gap * size))
                pixels = resize(img.convert("RGB"), size)
            diffs.append(np.abs(pixels.astype(np.int16) - ref))
        ms = (time.perf_counter() - start) * 1000 / len(paths)
        d = np.stack(diffs)
        print(f"  gap {gap or 'full':>4}: {ms:6.1f} ms/photo, mean |diff| {d.mean():.3f}, "
              f"max {d.max()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "artifacts/real")
    parser.add_argument("--labels", type=Path, default=ROOT / "data/real/test.txt")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--many", type=int, default=10_000)
    parser.add_argument("--old-ref", default=None, help="default: git merge-base HEAD main")
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    ref = args.old_ref or subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
                                         check=True, capture_output=True,
                                         text=True).stdout.strip()
    model_path = resolve_model(args.model).resolve()
    model = open_model(model_path)
    heads = model.heads
    samples = load_label_file(args.labels, heads, images=False)
    real = [s.path for s in samples]
    labels = np.array([s.labels for s in samples]).reshape(len(samples), -1)
    name, flags = cpu()
    flags = [f for f in ("avx2", "avx512f", "avx512_vnni", "amx_int8") if f in flags]
    print(f"CPU: {name} ({' '.join(flags)}); {os.cpu_count()} cores; model {model_path} ({model.variant}, "
          f"{model.image_size} px); old code: {ref[:10]}")
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as tmp_name:
        tmp = Path(tmp_name)
        camera = make_photos(real, tmp / "camera", args.count)
        parity(model, heads, real, labels, f"real photos ({args.labels})")
        reps = -(-len(camera) // len(real))
        parity(model, heads, camera, np.tile(labels, (reps, 1))[:len(camera)], "12-MP versions")
        if args.sweep:
            sweep(camera[:20], model.image_size)
        old = old_tree(ref, tmp)
        print("\n`pipeline predict --json`, each in its own process (ru_maxrss):")
        for name, inputs in ((f"{len(camera)} photos 4032x3024", [str(tmp / "camera")]),
                             (f"{len(real)} real photos", [str(p) for p in real])):
            runs = [measure(*predict_cmd(tree, inputs, model_path), tmp / f"{key}.jsonl")
                    for key, tree in (("old", old), ("new", ROOT))]
            compare(name, *runs)
        many = tmp / "many"
        many.mkdir()
        for i in range(args.many):
            (many / f"p{i:06d}.jpg").symlink_to(real[i % len(real)])
        few = measure(*predict_cmd(ROOT, [str(many / f"p{i:06d}.jpg") for i in range(100)],
                                   model_path), tmp / "few.jsonl")
        lots = measure(*predict_cmd(ROOT, [str(many)], model_path), tmp / "lots.jsonl")
        print(f"new predict, 100 paths: {few['peak_mb']:.0f} MB, {few['wall_s']:.1f} s; "
              f"{args.many} paths: {lots['peak_mb']:.0f} MB ({lots['peak_mb'] / few['peak_mb']:.2f}"
              f" x), {lots['wall_s']:.1f} s, {len(lots['lines'].splitlines())} answered")


if __name__ == "__main__":
    main()
