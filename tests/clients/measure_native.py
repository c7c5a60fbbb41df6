"""Native LiteRT p50 of the site's model files, to hold the page's timings against.

    python measure_native.py SITE_DIR [RUNS]

Each file of SITE/site.json, 1 thread (MediaPipe's web wasm is single-threaded), one fixed
input (a mid-grey image prepared as `pipeline predict` prepares pixels), 20 warm-up runs, then
RUNS timed calls of the runner alone. Prints one JSON object: {variant: {"p50_ms", "runs"}}.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.modelfile.runtime import TFLiteModel


def main(site: Path, runs: int) -> None:
    info = json.loads((site / "site.json").read_text())
    found = {}
    for v in info["variants"]:
        model = TFLiteModel(site / v["file"], threads=1)
        size = model.image_size
        x = model.prepare(np.full((size, size, 3), 128, np.uint8))
        for _ in range(20):
            model.run_prepared(x)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            model.run_prepared(x)
            times.append((time.perf_counter() - start) * 1000)
        found[v["key"]] = {"p50_ms": round(float(np.median(times)), 3), "runs": runs,
                           "input": size}
    print(json.dumps(found))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 200)
