"""The page: HTML helpers (every text from a file goes through `esc`), the skeleton with its
inline CSS, the problems box and the summary card.

The page is one file: images are data URIs, the style is inline, and a Content-Security-Policy
forbids every request, so it opens from disk and cannot reach the network.
"""
from __future__ import annotations

import base64
import json
import time
from html import escape

from pipeline import __version__

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
LEVELS = ("error", "warning", "note")


def esc(value) -> str:
    return escape(str(value), quote=True)


def fmt(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def kb(n_bytes) -> str:
    return "–" if n_bytes is None else f"{n_bytes / 1024:,.0f} KB"


def img(png: bytes | None, alt: str, cls: str = "plot") -> str:
    if not png:
        return f'<p class="missing">{esc(alt)}: nothing to draw</p>'
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{cls}" alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def table(header: list[str] | None, rows: list[list[str]], cls: str = "") -> str:
    """Cells are HTML already (callers escape their text); header cells too. A cell may be
    (html, style) for a cell with its own inline style."""
    head = ("<thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead>"
            if header else "")
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}">{head}<tbody>{body}</tbody></table>'


def _cell(cell) -> str:
    if isinstance(cell, tuple):
        return f'<td style="{cell[1]}">{cell[0]}</td>'
    return f"<td>{cell}</td>"


def pairs(mapping: dict) -> str:
    """A key/value table of settings; nested values shown as compact JSON."""
    rows = [[f"<code>{esc(k)}</code>", esc(v if isinstance(v, str) else json.dumps(v))]
            for k, v in mapping.items()]
    return table(None, rows, "kv")


def missing(text: str, how: str | None = None) -> str:
    command = f": run <code>{esc(how)}</code>" if how else ""
    return f'<p class="missing">{esc(text)}{command}</p>'


def section(title: str, body: str, anchor: str, cls: str = "", data: str = "") -> str:
    return (f'<section id="{anchor}" class="card {cls}"{data}><h2>{title}</h2>{body}'
            "</section>")


def page(report: dict, sections: list[tuple[str, str, str]]) -> str:
    """sections: (anchor, navigation label (plain text), section HTML)."""
    nav = " ".join(f'<a href="#{a}">{esc(label)}</a>' for a, label, _ in sections)
    generated = time.strftime("%Y-%m-%d %H:%M:%S %z")
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(report['name'])}: pipeline report</title><style>{CSS}</style></head>"
            f"<body><header><h1>Run <code>{esc(report['name'])}</code></h1>"
            f"<p class=\"sub\"><code>{esc(report['run'])}</code> · report written {generated}"
            f" by flower-pipeline {esc(__version__)}</p><nav>{nav}</nav></header><main>"
            + "".join(html for _, _, html in sections) + "</main></body></html>\n")


def problems(report: dict) -> str:
    items = sorted(report["problems"], key=lambda p: LEVELS.index(p["level"]))
    if not items:
        return section("Problems", '<p class="ok">none found</p>', "problems")
    counts = ", ".join(f"{sum(p['level'] == lv for p in items)} {lv}(s)" for lv in LEVELS
                       if any(p["level"] == lv for p in items))
    body = "".join(f'<li class="{p["level"]}"><b>{p["level"]}</b> {esc(p["text"])}</li>'
                   for p in items)
    return section(f"Problems <small>({counts})</small>", f'<ul class="problems">{body}</ul>',
                   "problems")


def heads_table(heads) -> str:
    rows = [[f"<code>{esc(h.name)}</code>", esc(h.short), esc(", ".join(h.classes))]
            for h in heads]
    return table(["head", "short", "classes (index order)"], rows)


def counts_tables(report: dict) -> str:
    data = report["data"]
    if not data or not data["counts"]:
        return missing("no data counts (the split files could not be read; see problems)")
    splits = list(data["counts"])
    parts = [f"<p>label files in <code>{esc(data['folder'])}</code></p>"]
    for head in report["heads"]:
        names = list(next(iter(data["counts"].values()))[head.name])
        rows = [[esc(name)] + [str(data["counts"][s][head.name].get(name, 0)) for s in splits]
                for name in names]
        totals = ["<b>all</b>"] + [str(sum(data["counts"][s][head.name].values()))
                                   for s in splits]
        parts.append(f"<h4>{esc(head.name)}</h4>" + table(["class"] + splits, rows + [totals]))
    return '<div class="row">' + "".join(f"<div>{p}</div>" for p in parts) + "</div>"


def stages_table(report: dict) -> str:
    rows = []
    for stage, status in report["stages"].items():
        entry = status["entry"] if status["done"] else None
        rows.append([esc(stage), "done" if entry else f"not yet: <code>{esc(status['how'])}</code>",
                     esc(entry.get("finished", "–")) if entry else "–",
                     fmt(entry.get("seconds"), 1) if entry else "–"])
    note = ("<p class=\"small\">seconds as the manifest records them: the time inside the "
            "stage's own write step (for benchmark, after the measuring; qat includes export)"
            "</p>")
    return table(["stage", "status", "finished", "seconds"], rows) + note


def exported_files(report: dict) -> str:
    entry = report["stages"]["export"]["entry"] if report["stages"]["export"]["done"] else None
    if not entry:
        return missing("nothing exported yet", report["stages"]["export"]["how"])
    rows = [[f"<code>{esc(path)}</code>", kb(o.get("bytes")), f"<code>{esc(o.get('sha256', '')[:12])}</code>"]
            for path, o in entry.get("outputs", {}).items()]
    ratio = (report["export"] or {}).get("size_ratio_int8_to_float32")
    tail = f"<p>int8 / float32 file size: {fmt(ratio)}</p>" if ratio else ""
    return table(["file", "size", "sha256"], rows) + tail


def summary(report: dict) -> str:
    manifest, parts = report["manifest"], []
    if report["heads"] is not None:
        parts.append("<h3>Heads and classes</h3>" + heads_table(report["heads"]))
        parts.append("<h3>Data: images per split and class</h3>" + counts_tables(report))
    parts.append("<h3>Stages and timings</h3>" + stages_table(report))
    parts.append("<h3>Exported files</h3>" + exported_files(report))
    settings = [f"<div><h4>{esc(stage)}</h4>{pairs(s['entry'].get('settings', {}))}</div>"
                for stage, s in report["stages"].items() if s["done"] and s["entry"]]
    if settings:
        parts.append('<h3>Settings</h3><div class="row">' + "".join(settings) + "</div>")
    parts.append("<h3>Package versions <small>(manifest.json)</small></h3>"
                 + pairs(manifest.get("versions", {})))
    return section("Summary", "".join(parts), "summary")


CSS = """
:root{--fg:#1d2430;--muted:#5b6575;--line:#d9dee6;--bg:#f4f6f9;--bad:#b3261e;--warn:#9a6700;
--good:#1a7f37;--accent:#2458b3}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
header{background:#1d2430;color:#fff;padding:14px 24px 10px}
header h1{margin:0;font-size:22px}
header code{color:#ffd479}
.sub{margin:2px 0 8px;color:#c8d0dc;font-size:12px}
nav a{color:#9cc3ff;margin-right:12px;font-size:13px;text-decoration:none;white-space:nowrap}
main{padding:16px 24px;max-width:1500px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 18px;
margin:0 0 16px}
h2{margin:4px 0 10px;font-size:18px}
h3{margin:16px 0 6px;font-size:15px;color:var(--accent)}
h4{margin:8px 0 4px;font-size:13px}
small,.small{color:var(--muted);font-size:12px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
table{border-collapse:collapse;margin:4px 0 8px;font-size:13px}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef1f6;font-weight:600}
td.num,th.num{text-align:right}
table.kv td:first-child{white-space:nowrap}
.row{display:flex;flex-wrap:wrap;gap:4px 28px;align-items:flex-start}
.missing{color:var(--warn);font-style:italic}
.ok{color:var(--good)}
ul.problems{margin:0;padding-left:18px}
ul.problems li{margin:3px 0;overflow-wrap:anywhere}
li.error b{color:var(--bad)} li.warning b{color:var(--warn)} li.note b{color:var(--muted)}
img.plot{max-width:100%;height:auto;display:block;margin:6px 0}
.few{background:#fff1c2;color:#7a4b00;border-radius:3px;padding:0 4px;font-size:11px}
.n{color:var(--muted);font-size:12px}
.p{color:var(--muted);font-size:11px}
table.confusion td{text-align:right;min-width:38px}
.cm{display:inline-block;margin:0 18px 8px 0;vertical-align:top}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:10px}
table.mini{font-size:11px;margin:2px 0;width:100%}
table.mini th,table.mini td{padding:1px 4px}
table.bench code{white-space:nowrap;overflow-wrap:normal}
table.mini code{overflow-wrap:normal;white-space:nowrap;font-size:11px}
.tile{border:1px solid var(--line);border-radius:6px;padding:6px;font-size:12px}
.tile.wrong{border-color:var(--bad);background:#fff6f5}
.tile img{width:128px;height:128px;object-fit:contain;display:block;margin:0 auto 4px;
background:#eee;border:1px solid var(--line)}
.tile .path{color:var(--muted);font-size:11px;overflow-wrap:anywhere}
.bad{color:var(--bad);font-weight:600} .good{color:var(--good)}
.pass{color:var(--good);font-weight:600} .fail{color:var(--bad);font-weight:600}
"""
