"""One section per head, one per variant, and the gallery of test images.

Per-class figures are read off the confusion matrix of the metrics file (rows = true class):
recall = hits / n with n, the class's test images, printed beside it, so that a recall of 1.0
on three images is not mistaken for one on three hundred.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.report import plots
from pipeline.report.gather import KERAS, problem, SMALL_CLASS, bench_key, title, variant_keys
from pipeline.report.html import esc, fmt, img, kb, missing, section, table
from pipeline.modelfile.variants import REFERENCE, VARIANTS
from pipeline.report.predictions import thumbnail

QAT_ROW = "keras_qat"


def rows_for(report: dict) -> list[tuple[str, str]]:
    """(metrics key, row title) in table order: Keras float, Keras QAT, then exported."""
    keys = variant_keys(report)
    out = [(KERAS, title(KERAS))]
    if QAT_ROW in report["metrics"]:
        out.append((QAT_ROW, "Keras QAT (qat/, source of int8)"))
    return out + [(k, title(k)) for k in keys[1:]]


def metrics_of(report: dict, preds: dict | None, key: str) -> tuple[dict | None, str]:
    """A variant's test metrics from its stage's file, else from this report's LiteRT run."""
    if report["metrics"].get(key):
        return report["metrics"][key], "file"
    if preds and key in preds["metrics"]:
        return preds["metrics"][key], "report"
    return None, ""


def findings(report: dict, preds: dict | None) -> None:
    """For the problems box: classes the shipped variant never gets right, and what it loses
    against Keras float, in images."""
    shipped = (report["spec"] or {}).get("default")
    ship, _ = metrics_of(report, preds, shipped) if shipped else (None, "")
    ref, _ = metrics_of(report, preds, KERAS)
    for head in report["heads"] if ship else ():
        h = ship.get(head.name) or {}
        matrix = h.get("confusion") or []
        for i, name in enumerate(head.classes if matrix else ()):
            if sum(matrix[i]) and not matrix[i][i]:
                problem(report, "warning", f"{title(shipped)} gets no test image of {head.name} "
                                           f"{name!r} right (0/{sum(matrix[i])})")
        a, b = h.get("accuracy"), ((ref or {}).get(head.name) or {}).get("accuracy")
        if a is not None and b is not None and a < b:
            lost = round((b - a) * h.get("n", 0))
            problem(report, "warning", f"{title(shipped)} (shipped) is {b - a:.3f} below Keras "
                                       f"float on {head.name} test accuracy ({a:.3f} vs {b:.3f}, "
                                       f"about {lost} of {h.get('n')} images)")


def class_cell(matrix: list, i: int) -> str:
    n, hits = sum(matrix[i]), matrix[i][i]
    predicted = sum(row[i] for row in matrix)
    recall = f"{hits / n:.3f}" if n else "–"
    precision = f"{hits / predicted:.3f}" if predicted else "–"
    few = ' <span class="few">few</span>' if 0 < n < SMALL_CLASS else ""
    return (f'{recall} <span class="n">{hits}/{n}</span>{few}<br>'
            f'<span class="p">precision {precision} ({hits}/{predicted})</span>')


def agreement_cell(preds: dict | None, key: str, head: str) -> str:
    if key == KERAS:
        return "(the float model)"
    if key == REFERENCE and preds and preds.get("agreement"):
        return "reference"
    value = ((preds or {}).get("agreement") or {}).get(key, {}).get(head)
    return fmt(value)


def kind_table(report: dict, preds: dict | None, head) -> str:
    """A multilabel or regression head: its kind's figures per model, one line each."""
    rows = []
    for key, name in rows_for(report):
        m, source = metrics_of(report, preds, key)
        h = (m or {}).get(head.name)
        mark = " <small>(report's LiteRT run)</small>" if source == "report" else ""
        rows.append([esc(name) + mark, esc(head.impl.summary(h)) if h else "–"])
    return table(["model", f"test ({head.kind})"], rows)


def head_table(report: dict, preds: dict | None, head) -> str:
    if not head.impl.one_class:
        return kind_table(report, preds, head)
    header = (["model", "accuracy (n)", "mean recall"]
              + [f"{esc(c)}: recall (hits/n)" for c in head.classes] + ["agrees with float"])
    rows = []
    for key, name in rows_for(report):
        m, source = metrics_of(report, preds, key)
        h = (m or {}).get(head.name)
        if not h:
            rows.append([esc(name)] + ["–"] * (len(header) - 1))
            continue
        mark = " <small>(report's LiteRT run)</small>" if source == "report" else ""
        cells = [class_cell(h["confusion"], i) for i in range(len(head.classes))]
        rows.append([esc(name) + mark, f'{fmt(h.get("accuracy"))} <span class="n">n={h["n"]}</span>',
                     fmt(h.get("mean_recall"))] + cells + [agreement_cell(preds, key, head.name)])
    note = ('<p class="small">agrees with float: share of test images whose arg-max equals the '
            "float32 .tflite's (the exported float model, held to Keras float by the export "
            "check), from this report's LiteRT run. Keras rows come from train/ and qat/ "
            "metrics.json.</p>")
    return table(header, rows) + note


def confusion(matrix: list, classes) -> str:
    header = ["true \\ predicted"] + [esc(c) for c in classes]
    rows = []
    for i, row in enumerate(matrix):
        n = sum(row) or 1
        cells = []
        for j, v in enumerate(row):
            hue = "26,127,55" if i == j else "179,38,30"
            alpha = 0.08 + 0.6 * v / n if v else 0
            cells.append((str(v), f"background:rgba({hue},{alpha:.2f})"))
        rows.append([esc(classes[i])] + cells)
    return table(header, rows, "confusion")


def confusions(report: dict, preds: dict | None, head) -> str:
    parts = []
    for key, name in rows_for(report):
        m, _ = metrics_of(report, preds, key)
        if m and m.get(head.name):
            parts.append(f'<div class="cm"><h4>{esc(name)}</h4>'
                         f'{confusion(m[head.name]["confusion"], head.classes)}</div>')
    return "".join(parts) or missing("no confusion matrix yet")


def head_section(report: dict, preds: dict | None, i: int, head) -> tuple[str, str, str]:
    history = report["history"]
    png = plots.curves(head.name, history.get("train"), history.get("qat"), head.impl.metric)
    curves = (img(png, f"{head.name}: loss and {head.impl.metric} by epoch") if png
              else missing("no training curves for this head (no history.csv)"))
    unlabelled = (((report["data"] or {}).get("counts") or {}).get("test") or {}).get(
        head.name, {}).get("none")
    gaps = (f" · {unlabelled} test image(s) have no {esc(head.name)} label and are left out of "
            "its figures" if unlabelled else "")
    what = esc(head.impl.values_text(head))
    body = (f"<p>{head.kind}, {what}{gaps}</p><h3>Training and QAT curves</h3>"
            f"{curves}<h3>Test figures per variant</h3>{head_table(report, preds, head)}"
            + (f"<h3>Confusion matrices (test)</h3>{confusions(report, preds, head)}"
               if head.impl.one_class else ""))
    anchor = f"head-{i}"
    html = section(f"Head <code>{esc(head.name)}</code>", body, anchor, "head",
                   f' data-head="{esc(head.name)}"')
    return anchor, f"head {head.name}", html


def _quantization(q: dict | None) -> str:
    return "none" if not q else f"scale {q.get('scale'):.6g}, zero point {q.get('zero_point')}"


def _per_head(values: dict | None) -> str:
    return ", ".join(f"{k} {fmt(v)}" for k, v in (values or {}).items()) or "–"


def _and(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def variant_facts(report: dict, key: str) -> list[list[str]]:
    if key == KERAS:
        return [["model", "<code>train/model.h5</code>"],
                ["role", "the float model; source of " + _and([
                    v.key for v in VARIANTS if v.source == "float"])]]
    entry = ((report["spec"] or {}).get("variants") or {}).get(key, {})
    info = entry.get("input", {})
    saved = ((report["export"] or {}).get("variants") or {}).get(key)
    check = "–"
    if saved:
        diff = saved.get("max_abs_diff")
        source = {"float": "Keras float", "qat": "Keras QAT"}.get(saved.get("source"), "?")
        check = esc(f"{_per_head(saved.get('agreement'))} with {source}; "
                    f"max |Δp| {'–' if diff is None else f'{diff:.2g}'}")
    return [["file", f"<code>export/{esc(entry.get('file', '?'))}</code>"],
            ["size", kb(entry.get("size_bytes"))],
            ["input", f"<code>{esc(info.get('name'))}</code> {esc(info.get('dtype'))} "
                      f"{esc(info.get('shape'))}; quantization {esc(_quantization(info.get('quantization')))}"],
            ["takes camera bytes as they are", "yes" if info.get("raw_pixels") else "no"],
            ["export check (arg-max agreement with its source)", check]]


def bench_facts(report: dict, key: str) -> list[list[str]]:
    entry = ((report["benchmark"] or {}).get("variants") or {}).get(bench_key(key))
    if not entry:
        return []
    p50 = ", ".join(f"{t} thr {v['p50']:.3g} ms" for t, v in entry.get("latency_ms", {}).items())
    return [["benchmark p50", esc(p50)], ["peak RSS", f"{fmt(entry.get('peak_rss_mb'), 1)} MB"],
            ["init", f"{fmt(entry.get('init_ms'), 1)} ms"]]


def variant_section(report: dict, preds: dict | None, i: int, key: str) -> tuple[str, str, str]:
    m, source = metrics_of(report, preds, key)
    if m is None:
        how = report["stages"]["train" if key == KERAS else "export"]["how"]
        body = missing(f"no test metrics for {title(key)} yet", how)
    else:
        rows = [[f"<code>{esc(h.name)}</code>", fmt((m.get(h.name) or {}).get("accuracy")),
                 esc((m.get(h.name) or {}).get("n", "–")),
                 agreement_cell(preds, key, h.name)] for h in report["heads"]]
        origin = "this report's LiteRT run" if source == "report" else "the stage's metrics.json"
        body = (table(["head", "test accuracy", "n", "agrees with float"], rows)
                + f"<p>joint accuracy (every head right): {fmt(m.get('joint_accuracy'))}"
                f" on {esc(m.get('joint_n', '–'))} images<br><small>from {origin}</small></p>")
    facts = table(None, variant_facts(report, key) + bench_facts(report, key), "kv")
    anchor = f"variant-{i}"
    html = section(f"Variant: {esc(title(key))} <small>({esc(key)})</small>",
                   f'<div class="row"><div>{body}</div><div>{facts}</div></div>',
                   anchor, "variant", f' data-variant="{esc(key)}"')
    return anchor, title(key), html


def shown_path(path: str, folder: str | None) -> str:
    """The path relative to the data folder when it is inside it, else as recorded."""
    try:
        return str(Path(path).relative_to(folder)) if folder else path
    except ValueError:
        return path


def tile(item: dict, folder: str | None) -> str:
    uri = thumbnail(item["path"])
    picture = (f'<img alt="{esc(item["path"])}" src="{uri}">' if uri
               else '<p class="missing">image unreadable</p>')
    rows = []
    for h in item["heads"]:
        truth = esc(h["truth"]) if h["truth"] is not None else "<i>no label</i>"
        verdict = "bad" if h["wrong"] else "good"
        said = "<i>not sure</i>" if h["pred"] is None else esc(h["pred"])
        rows.append([f'<code>{esc(h["head"])}</code>',
                     f'<span class="{verdict}">{said}</span> {h["prob"]:.2f}', truth])
    cls = "tile wrong" if item["wrong"] else "tile"
    return (f'<div class="{cls}" title="{esc(item["path"])}">{picture}'
            f'{table(["head", "predicted", "true"], rows, "mini")}'
            f'<div class="path">{esc(shown_path(item["path"], folder))}</div></div>')


def gallery_section(report: dict, preds: dict | None) -> tuple[str, str, str]:
    if preds is None:
        how = report["stages"]["export"]["how"] if not report["stages"]["export"]["done"] else None
        why = ("no exported model yet" if how else
               "no gallery: the test split or the exported models could not be read (see problems)")
        return "gallery", "gallery", section("Gallery of test images", missing(why, how), "gallery")
    g = preds["gallery"]
    intro = (f"<p>{esc(title(g['variant']))} (<code>{esc(g['variant'])}</code>, the variant the "
             f"app ships) on the {g['total']} test images, run by LiteRT: {g['mistakes']} with a "
             f"wrong head (a wrong class answered), {g.get('unsure', 0)} more with a head not "
             f"sure. Showing the mistakes (most confident first), then the not-sure photos, then "
             f"correct ones (least confident first): {len(g['items'])} in all. Number: the top "
             "class's probability.</p>")
    folder = (report["data"] or {}).get("folder")
    tiles = "".join(tile(item, folder) for item in g["items"])
    return "gallery", "gallery", section("Gallery of test images",
                                         intro + f'<div class="gallery">{tiles}</div>', "gallery")
