"""The benchmark section: machine, table, latency / memory / size / noise figures, the two-head
model against two single-task models, and the targets. Everything from benchmark/results.json.
"""
from __future__ import annotations

from pipeline.figures import charts as plots
from pipeline.report.gather import problem
from pipeline.report.html import esc, fmt, img, missing, section, table
from pipeline.figures import claim_table as claim
from pipeline.figures.machine import KERNEL_FLAGS, cpu
from pipeline.modelfile.variants import BENCH_PAIR as PAIR, BY_KEY, DEFAULT

QAT = BY_KEY[DEFAULT].bench_key


def check(report: dict) -> None:
    """Benchmark findings for the problems box: failed targets, a quick run."""
    results = report["benchmark"]
    if not results:
        return
    for target, ok in (results.get("ratios", {}).get("targets") or {}).items():
        if ok is False:
            problem(report, "warning", f"benchmark target not met: {target} "
                                       "(benchmark/results.json)")
    if results.get("settings", {}).get("quick"):
        problem(report, "note", f"the benchmark ran with --quick ({results['settings'].get('runs')}"
                                " timed runs): compare its figures only as rough ratios")


def cpu_flags(machine: dict) -> tuple[list[str] | None, str]:
    """(flags, where they come from). results.json may record them; else this machine's
    /proc/cpuinfo, and only when its CPU model is the one the benchmark recorded."""
    if machine.get("flags"):
        return list(machine["flags"]), "benchmark/results.json"
    model, flags = cpu()
    if not flags or model != machine.get("cpu"):
        return None, "not recorded in results.json (and this machine's CPU is another model)"
    return flags, "not in results.json: read from /proc/cpuinfo of the machine writing this report, whose CPU model is the same"


def machine_table(results: dict) -> str:
    m = results.get("machine", {})
    flags, origin = cpu_flags(m)
    shown = (", ".join(f for f in KERNEL_FLAGS if f in flags) + f" ({len(flags)} flags in all)"
             if flags else "–")
    rows = [["CPU", esc(m.get("cpu", "–"))], ["cores", esc(m.get("cores", "–"))],
            ["CPU flags that matter for int8/float kernels", f"{esc(shown)}<br><small>{esc(origin)}</small>"],
            ["platform", esc(m.get("platform", "–"))], ["python", esc(m.get("python", "–"))],
            ["ai-edge-litert", esc(m.get("ai_edge_litert", "–"))],
            ["load average (1 min) before / after", esc(f"{(m.get('load_avg_before') or ['–'])[0]}"
                                                        f" / {(m.get('load_avg_after') or ['–'])[0]}")]]
    return table(["machine", ""], rows, "kv")


def results_table(results: dict, heads) -> str:
    header = ["variant", "threads", "size MB", "init ms", "1st ms", "p50 ms", "p90 ms", "p99 ms",
              "mean ms", "inf/s", "peak RSS MB", "GMAC/s", "% of peak"]
    header += [f"acc {esc(h.name)}" for h in heads]
    rows = []
    for name, v in results.get("variants", {}).items():
        accuracy = v.get("accuracy") or {}
        for t in v.get("per_threads") or v.get("latency_ms") or {}:
            rows.append([f"<code>{esc(name)}</code>", esc(t)] + measured(v, t)
                        + [fmt(accuracy.get(h.name)) for h in heads])
    return table(header, rows, "bench")


def measured(v: dict, t: str) -> list[str]:
    """One variant's cells at t threads; a results.json with only the contract keys fills
    what it has (init and peak RSS are then those of its first thread count)."""
    p, lat = (v.get("per_threads") or {}).get(t, {}), plots.stats(v, t) or {}
    share, size = p.get("share_of_peak"), v.get("size_bytes")
    return [fmt(None if size is None else size / 1e6, 2), fmt(p.get("init_ms", v.get("init_ms")), 0),
            fmt(p.get("first_inference_ms"), 1), fmt(lat.get("p50"), 3), fmt(lat.get("p90"), 3),
            fmt(lat.get("p99"), 3), fmt(lat.get("mean"), 3), fmt(lat.get("throughput_per_s"), 0),
            fmt(p.get("peak_rss_mb", v.get("peak_rss_mb")), 0), fmt(p.get("gmacs"), 1),
            fmt(None if share is None else 100 * share, 0)]


def pair_block(results: dict) -> str:
    variants, ratios = results.get("variants", {}), results.get("ratios", {})
    if QAT not in variants or PAIR not in variants:
        return missing("no two-head vs two-single-task comparison (a variant was not measured)")
    rows = []
    for name, what in ((QAT, "one two-head int8 QAT model"),
                       (PAIR, "two single-task int8 models, one after the other")):
        v = variants[name]
        p50 = ", ".join(f"{t} thr {x['p50']:.3f} ms" for t, x in v.get("latency_ms", {}).items())
        rows.append([esc(what), esc(p50), fmt(v.get("size_bytes", 0) / 1e6, 2),
                     fmt(v.get("peak_rss_mb"), 0)])
    text = (f"<p>two-head / two single-task latency at {esc(ratios.get('threads', '?'))} "
            f"thread(s), p50: <b>{fmt(ratios.get('two_head_vs_two_single_task_latency'), 2)}x</b>"
            f" (on each variant's fastest run: "
            f"{fmt((ratios.get('from_min') or {}).get('two_head_vs_two_single_task_latency'), 2)}x)</p>")
    notes = "".join(f"<p class=\"small\">note: {esc(n)}</p>" for n in variants[PAIR].get("notes", []))
    return table(["", "p50", "size MB", "peak RSS MB"], rows) + text + notes


def claim_block(results: dict) -> str:
    """`benchmark --baselines trained`: each head of the two-head model against its own
    trained single-task model, mean [min-max] over seeds, and the totals."""
    found = results.get("baselines")
    if not found:
        return ""
    body = table(list(claim.COLUMNS), [[esc(cell) for cell in row] for row in claim.rows(found)])
    lines = "".join(f"<p>{esc(line.strip())}</p>" for line in
                    claim.totals(found, results.get("ratios", {})))
    return (f"<h3>Against trained single-task models ({len(found['seeds'])} seed(s), test "
            f"split)</h3><p class=\"small\">each figure: mean [min-max] over seeds; figures "
            f"from each model's own exported files and thresholds</p>" + body + lines)


def noise_text(results: dict) -> str:
    spreads = {n: max(p.get("latency", {}).get("round_spread_pct", 0)
                      for p in v["per_threads"].values())
               for n, v in results.get("variants", {}).items() if v.get("per_threads")}
    s = results.get("settings", {})
    runs = (f"{esc(s.get('runs', '?'))} timed runs per variant in {esc(s.get('rounds', '?'))} "
            f"rounds{' (--quick)' if s.get('quick') else ''}")
    if not spreads:
        return f"<p>{runs}</p>"
    ordered = sorted(spreads.values())
    return (f"<p>{runs}. Noise: per-round medians differ by up to <b>{max(ordered):.0f}%</b> of "
            f"p50 (median variant {ordered[len(ordered) // 2]:.0f}%).</p>")


def targets_table(results: dict) -> str:
    ratios = results.get("ratios", {})
    rows = [[esc(k), fmt(v, 2) + (" MB" if k.endswith("_mb") else "x")]
            for k, v in ratios.items() if isinstance(v, (int, float)) and k != "threads"]
    why = ratios.get("target_notes") or {}  # absent from results.json of earlier versions
    targets = [[esc(k), '<span class="pass">PASS</span>' if ok else
                ('<span class="fail">FAIL</span>' if ok is False else "–"), esc(why.get(k, ""))]
               for k, ok in (ratios.get("targets") or {}).items()]
    return table(["ratio", "value"], rows) + table(["target", "result", "why"], targets)


def benchmark_section(report: dict) -> tuple[str, str, str]:
    status, results = report["stages"]["benchmark"], report["benchmark"]
    if not results:
        body = missing("no benchmark yet", status["how"])
    else:
        notes = "".join(f"<p class=\"small\">note: {esc(n)}</p>" for n in results.get("notes", []))
        body = (machine_table(results) + "<h3>Every variant</h3>"
                + results_table(results, report["heads"] or [])
                + "<h3>Latency distribution</h3>" + img(plots.latency(results), "latency per variant")
                + "<h3>Peak memory and file size</h3>"
                + img(plots.memory_and_size(results), "peak memory and file size")
                + "<h3>One two-head model vs two single-task models</h3>" + pair_block(results)
                + claim_block(results)
                + "<h3>Noise</h3>" + noise_text(results)
                + img(plots.noise(results), "per-round medians")
                + "<h3>Ratios and targets</h3>" + targets_table(results) + notes)
    return "benchmark", "benchmark", section("Benchmark (CPU)", body, "benchmark")
