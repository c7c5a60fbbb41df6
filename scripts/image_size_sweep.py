"""Accuracy against phone-side latency, per input size, on the real photographs.

For each size: `pipeline train` (ImageNet start, the train stage's defaults), `pipeline
quantize` and `pipeline benchmark` (1 thread) into OUT/<size>/, then one table (Markdown)
and one plot of test accuracy (Keras float and int8 QAT, per head) against int8 QAT latency.

    .venv/bin/python scripts/image_size_sweep.py --data data/real --out artifacts/size-sweep \\
        --sizes 128,160,224 --epochs 30
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PIPELINE = str(Path(sys.executable).with_name("pipeline"))


def stage(*args: str) -> None:
    print("$ pipeline " + " ".join(args), flush=True)
    subprocess.run([PIPELINE, *args], check=True, stdout=subprocess.DEVNULL)


def measure(data: str, run: Path, size: int, epochs: int, runs: int) -> dict:
    # Each stage only if its output is missing: an interrupted sweep continues where it was.
    if not (run / "train" / "metrics.json").is_file():
        stage("train", "--data", data, "--run", str(run), "--image-size", str(size),
              "--epochs", str(epochs))
    if not (run / "export" / "metrics.json").is_file():
        stage("quantize", "--run", str(run))
    if not (run / "benchmark" / "results.json").is_file():
        stage("benchmark", "--run", str(run), "--threads", "1", "--runs", str(runs))
    keras = json.loads((run / "train" / "metrics.json").read_text())["test"]
    export = json.loads((run / "export" / "metrics.json").read_text())["variants"]
    bench = json.loads((run / "benchmark" / "results.json").read_text())
    p50 = {k: v["latency_ms"]["1"]["p50"] for k, v in bench["variants"].items()}
    return {"size": size, "float": _scores(keras), "int8": _scores(export["int8"]["test"]),
            "int8_ms": p50["tflite_int8_qat"], "float32_ms": p50["tflite_float32"],
            "cpu": bench["machine"]["cpu"], "flags": _kernel_flags(bench["machine"])}


def _kernel_flags(machine: dict) -> str:
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")
    return " ".join(f for f in wanted if f in machine.get("flags", [])) or "flags not recorded"


def _scores(metrics: dict) -> dict:
    return {"type": metrics["flower_type"]["accuracy"],
            "colour": metrics["flower_color"]["accuracy"],
            "colour_mean_recall": metrics["flower_color"]["mean_recall"]}


def table(rows: list[dict]) -> str:
    lines = ["| size | type float | type int8 QAT | colour mean recall float | colour mean "
             "recall int8 QAT | int8 QAT p50 ms | float32 p50 ms |", "|---" * 7 + "|"]
    for r in rows:
        f, q = r["float"], r["int8"]
        lines.append(f"| {r['size']} | {f['type']:.3f} | {q['type']:.3f} | "
                     f"{f['colour_mean_recall']:.3f} | {q['colour_mean_recall']:.3f} | "
                     f"{r['int8_ms']:.2f} | {r['float32_ms']:.2f} |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ms = [r["int8_ms"] for r in rows]
    for key, label, marker in (("type", "type", "o"), ("colour_mean_recall", "colour mean recall", "s")):
        ax.plot(ms, [r["float"][key] for r in rows], marker=marker, ls="--", label=f"{label}, float")
        ax.plot(ms, [r["int8"][key] for r in rows], marker=marker, label=f"{label}, int8 QAT")
    for r in rows:
        ax.annotate(f"{r['size']} px", (r["int8_ms"], r["int8"]["type"]),
                    textcoords="offset points", xytext=(4, 6), fontsize=8)
    ax.set_xlabel("int8 QAT latency, p50 ms (1 thread)")
    ax.set_ylabel("test split score")
    ax.set_title(f"real photos: accuracy vs latency\n{rows[0]['cpu']} ({rows[0]['flags']})",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/real")
    parser.add_argument("--out", default="artifacts/size-sweep")
    parser.add_argument("--sizes", default="128,160,224")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--runs", type=int, default=100, help="timed benchmark runs")
    args = parser.parse_args()
    out = Path(args.out)
    rows = [measure(args.data, out / str(size), size, args.epochs, args.runs)
            for size in map(int, args.sizes.split(","))]
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    plot(rows, out / "accuracy_vs_latency.png")
    print(table(rows))
    print(f"CPU: {rows[0]['cpu']} ({rows[0]['flags']}); plot: {out / 'accuracy_vs_latency.png'}")


if __name__ == "__main__":
    main()
