"""The CPU a figure was measured on: int8 speed depends on flags such as avx512_vnni."""
from __future__ import annotations


# CPU features that decide how fast int8 and float kernels can be (x86 and ARM names): shown
# next to every speed figure, by the benchmark's summary and the report.
KERNEL_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni",
                "avx_vnni", "avx512_bf16", "amx_int8", "asimd", "asimddp", "i8mm", "sve")


def cpu() -> tuple[str, list[str]]:
    """(model name, feature flags) of the first CPU in /proc/cpuinfo (x86 and ARM field
    names); ("unknown", []) where there is no such file."""
    model, flags = "unknown", []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            lines = info.read().splitlines()
    except OSError:
        return model, flags
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model") and model == "unknown":
            model = value.strip()
        if key.strip() in ("flags", "Features") and not flags:
            flags = value.split()
    return model, flags
