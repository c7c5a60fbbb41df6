"""Device benchmarks the page posts: checked against one schema, recorded in the run.

Each accepted result is one JSON file in the run's `devices` stage (`RUN/devices/` ->
`.devices.v<N>/`), published like any stage: under the run's lock, into `.devices.partial/`
(the files recorded so far, plus the new one), then one manifest switch. So a result is in the
run whole or not at all, a run that another command is writing is refused (503, the lock
holder named) rather than touched, and `pipeline report` reads the files through the manifest
with their sha256. A stage of its own, not a folder inside benchmark/: a re-run of
`pipeline benchmark` publishes a new benchmark folder and would drop what phones sent.

File names are made here (`<UTC time>-<serial>.json`), never taken from the request. A run
holds at most MAX_RESULTS: when it is full the oldest are kept and new ones refused (429), so
a burst of posts cannot fill the disk (at most MAX_RESULTS x MAX_BODY bytes).
"""
from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.io import write_json
from pipeline.rundir.runs import RunDir

STAGE = "devices"
MAX_BODY = 64 * 1024
MAX_RESULTS = 200
MAX_VARIANTS = 8
DEVICE = {"user_agent": (str, 512), "platform": (str, 64), "hardware_concurrency": (int, 1024),
          "device_memory_gb": (float, 1024), "webgpu": (bool, None), "wasm_simd": (bool, None),
          "wasm_threads": (bool, None), "cross_origin_isolated": (bool, None),
          "screen": (str, 32)}
TIMING = {"sha256": (str, 64), "runs": (int, 100000), "warmup": (int, 10000),
          "p50_ms": (float, 600000), "p90_ms": (float, 600000), "mean_ms": (float, 600000),
          "min_ms": (float, 600000), "init_ms": (float, 600000)}
TOP = {"schema", "runtime", "device", "variants", "frame_to_answer_ms", "note"}


class BadResult(PipelineError):
    """The posted body is not a device result of the documented schema (HTTP 400)."""


class Full(PipelineError):
    """The run holds MAX_RESULTS device results already (HTTP 429)."""


def parse(body: bytes, site: dict) -> dict:
    """The posted bytes -> a checked result, or BadResult saying what is wrong."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadResult(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadResult("expected a JSON object")
    if set(data) - TOP or data.get("schema") != 1:
        raise BadResult(f"expected schema 1 with keys {sorted(TOP)}; got {sorted(data)[:12]}")
    files = {v["key"]: v["sha256"] for v in site["variants"]}
    variants = data.get("variants")
    if not isinstance(variants, dict) or not 1 <= len(variants) <= MAX_VARIANTS:
        raise BadResult(f"'variants': 1 to {MAX_VARIANTS} measured variants expected")
    result = {"schema": 1, "runtime": _value("runtime", data.get("runtime"), str, 64),
              "device": _fields("device", data.get("device"), DEVICE), "variants": {}}
    for key, timing in variants.items():
        if key not in files:
            raise BadResult(f"'variants': {str(key)[:40]!r} is not a variant of this site")
        checked = _fields(f"variants.{key}", timing, TIMING)
        if checked.get("sha256") != files[key]:
            raise BadResult(f"variants.{key}: sha256 is not this site's model_{key} file")
        if not {"p50_ms", "p90_ms", "runs"} <= set(checked):
            raise BadResult(f"variants.{key}: p50_ms, p90_ms and runs are required")
        result["variants"][key] = checked
    for key, kind, bound in (("frame_to_answer_ms", float, 600000), ("note", str, 200)):
        if data.get(key) is not None:
            result[key] = _value(key, data[key], kind, bound)
    return result


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _fields(where: str, data, schema: dict) -> dict:
    if not isinstance(data, dict):
        raise BadResult(f"'{where}': expected an object")
    unknown = set(data) - set(schema)
    if unknown:
        raise BadResult(f"'{where}': unknown key {sorted(unknown)[0][:40]!r}")
    return {k: _value(f"{where}.{k}", v, *schema[k]) for k, v in data.items() if v is not None}


def _value(where: str, value, kind: type, bound):
    """A value of the right type, in range (numbers in [0, bound], strings of <= bound chars)."""
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is str:
        ok = isinstance(value, str) and len(value) <= bound and value.isprintable()
    else:
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = numeric and (kind is float or float(value).is_integer()) and \
            math.isfinite(value) and 0 <= value <= bound
        value = kind(value) if ok else value
    if not ok:
        what = f"a string of at most {bound} printable characters" if kind is str else (
            "true or false" if kind is bool else f"a number from 0 to {bound}")
        raise BadResult(f"'{where}': expected {what}")
    return value


def record(run: Path, result: dict, site: dict) -> str:
    """Publish `result` as one more file of the run's devices stage; its file name."""
    rd = RunDir(run)
    with rd.stage(STAGE, settings={"max_results": MAX_RESULTS}) as writer:
        earlier = _earlier(rd)
        if len(earlier) >= MAX_RESULTS:
            raise Full(f"{rd.root}: {len(earlier)} device results recorded, the most a run "
                       "keeps; the oldest are kept and new ones refused")
        for path in earlier:
            shutil.copyfile(path, writer.dir / path.name)
        name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{len(earlier) + 1:04d}.json"
        write_json(writer.dir / name, {**result, "received": time.strftime(
            "%Y-%m-%dT%H:%M:%S%z"), "site": {"run": site.get("run"),
                                            "export_id": site.get("export_id")}})
        writer.metrics = {"results": len(earlier) + 1}
    return name


def _earlier(rd: RunDir) -> list[Path]:
    """The files of the current devices stage, each checked against the manifest."""
    if rd.entry(STAGE) is None:
        return []
    prefix = f"{STAGE}/"
    return [rd.file(STAGE, key[len(prefix):]) for key in sorted(rd.entry(STAGE)["outputs"])]

