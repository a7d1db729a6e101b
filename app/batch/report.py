"""The report of a run: a CSV (one row per item) and one self-contained HTML page (a table per document).

Rows follow the run's plan (``run.json``: its documents and questions, in order), each showing the
newest record of its item: answered, failed, ``pending`` (not run yet) or ``stale`` (answered under
earlier settings or an earlier wording of the question, and not redone yet).
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

from app.batch.results import RESULTS_NAME, latest, read_records
from app.batch.runner import RUN_NAME
from app.types import RANDOM_WEIGHTS_LABEL

CSV_COLUMNS = ("doc_id", "title", "question_id", "question", "status", "answer", "parsed", "format_error",
               "citations", "invalid_citations", "tokens_in", "tokens_out", "total_ms", "reduced",
               "error_kind", "error_message", "finished_at")


def load_run(out_dir: Path | str) -> tuple[dict, list[dict]]:
    """(run metadata, rows in plan order). Raises FileNotFoundError when ``out_dir`` holds no run."""
    out_dir = Path(out_dir)
    meta_path = out_dir / RUN_NAME
    if not meta_path.is_file():
        raise FileNotFoundError(f"no batch run in {out_dir} (no {RUN_NAME}); start one with batch run")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    newest = latest(read_records(out_dir / RESULTS_NAME))
    docs = meta.get("documents") or [{"doc_id": None, "title": f"collection {meta.get('collection')}"}]
    rows = []
    for d in docs:
        for q in meta.get("questions", []):
            rec = newest.get((d["doc_id"] or "", q["id"]))
            status = "pending" if rec is None else rec.get("status", "failed")
            if rec is not None and (rec.get("run") != meta.get("run") or rec.get("question") != q["text"]):
                status = "stale"
            rows.append({"doc_id": d["doc_id"], "title": d.get("title", ""), "question_id": q["id"],
                         "question": q["text"], "status": status, "record": rec or {}})
    return meta, rows


def _cell(value) -> str:
    """Text for a spreadsheet cell; a leading = + @ would be read as a formula, so it is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "@", "\t", "\r") else text


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for row in rows:
            r = row["record"]
            err = r.get("error") or {}
            parsed = r.get("parsed")
            w.writerow([_cell(v) for v in (
                row["doc_id"] or "", row["title"], row["question_id"], row["question"], row["status"],
                r.get("answer", ""), "" if parsed is None else json.dumps(parsed, ensure_ascii=False),
                r.get("format_error") or "",
                "; ".join(c["doc_id"] for c in r.get("citations", []) if c.get("valid")),
                "; ".join(r.get("invalid_citations", [])), r.get("tokens_in", ""), r.get("tokens_out", ""),
                round((r.get("timings") or {}).get("total_ms") or 0), r.get("reduced", ""),
                err.get("kind", ""), err.get("message", ""), r.get("finished_at", ""))])


# ---- HTML -----------------------------------------------------------------------------------------

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;width:100%;margin-bottom:2em}
th,td{border:1px solid #ccc;padding:.4em .6em;vertical-align:top;text-align:left}
th{background:#f3f3f3} td.num{text-align:right;white-space:nowrap}
.answer{white-space:pre-wrap} .cite{background:#e3f0ff;border-radius:3px}
.cite.bad{background:#ffd9d9;text-decoration:line-through}
.ok{color:#176c2f} .failed{color:#b00020;font-weight:bold} .pending,.stale{color:#8a6d00}
.banner{background:#fff4d6;border:1px solid #e6c35c;padding:.6em 1em;margin:1em 0}
blockquote{margin:.3em 0 .3em 1em;color:#444;border-left:3px solid #ddd;padding-left:.6em}
pre{background:#f7f7f7;padding:.4em;white-space:pre-wrap} .muted{color:#777}
"""


def _marked(text: str, citations: list[dict]) -> str:
    """The answer, escaped, with each citation mark highlighted (struck out when invalid)."""
    marks: dict[tuple[int, int], bool] = {}
    for c in citations:
        for start, end in c.get("marks", []):
            marks[(start, end)] = marks.get((start, end), True) and bool(c.get("valid"))
    out, pos = [], 0
    for (start, end), valid in sorted(marks.items()):
        if start < pos:
            continue
        cls = "cite" if valid else "cite bad"
        out += [html.escape(text[pos:start]), f'<span class="{cls}">{html.escape(text[start:end])}</span>']
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _sources(record: dict) -> str:
    parts = []
    for c in record.get("citations", []):
        label = html.escape(f"[{c['doc_id']}] {c.get('title') or ''}".strip())
        if not c.get("valid"):
            parts.append(f'<div class="failed">{label}: not in the prompt</div>')
            continue
        origin = " (evidence: the answer cites nothing valid)" if c.get("source") == "retrieval" else ""
        quotes = "".join(f"<blockquote>{html.escape(e['text'])} "
                         f"<span class=muted>chars {e['start']}&ndash;{e['end']}</span></blockquote>"
                         for e in c.get("evidence", []))
        parts.append(f"<details><summary>{label}{origin}</summary>{quotes}</details>")
    return "".join(parts) or '<span class="muted">none</span>'


def _row_html(row: dict) -> str:
    r, status = row["record"], row["status"]
    answer = _marked(r.get("answer", ""), r.get("citations", []))
    if r.get("parsed") is not None and r.get("format") in ("json", "list", "choices"):
        answer += f"<pre>{html.escape(json.dumps(r['parsed'], ensure_ascii=False, indent=1))}</pre>"
    if r.get("format_error"):
        answer += f'<div class="pending">format: {html.escape(r["format_error"])}</div>'
    if r.get("error"):
        answer += f'<div class="failed">{html.escape(r["error"]["kind"])}: ' \
                  f'{html.escape(r["error"]["message"] or "")}</div>'
    if r.get("reduced"):
        answer += '<div class="muted">the document was reduced to fit the budget</div>'
    ms = (r.get("timings") or {}).get("total_ms")
    return (f"<tr><td><b>{html.escape(row['question_id'])}</b><br>{html.escape(row['question'])}</td>"
            f'<td class="answer">{answer}</td><td>{_sources(r)}</td>'
            f'<td class="num">{r.get("tokens_in", "")}</td><td class="num">{r.get("tokens_out", "")}</td>'
            f'<td class="num">{"" if ms is None else f"{ms / 1000:.1f} s"}</td>'
            f'<td class="{status}">{status}</td></tr>')


def _totals(rows: list[dict]) -> dict:
    """Counts over the rows; tokens and time of this run's records only (not stale ones)."""
    recs = [r["record"] for r in rows if r["status"] in ("ok", "failed")]
    return {"items": len(rows), "ok": sum(r["status"] == "ok" for r in rows),
            "failed": sum(r["status"] == "failed" for r in rows),
            "open": sum(r["status"] in ("pending", "stale") for r in rows),
            "tokens_in": sum(int(r.get("tokens_in") or 0) for r in recs),
            "tokens_out": sum(int(r.get("tokens_out") or 0) for r in recs),
            "seconds": sum(((r.get("timings") or {}).get("total_ms") or 0) for r in recs) / 1000}


def _totals_text(t: dict) -> str:
    return (f"{t['items']} items: {t['ok']} answered, {t['failed']} failed, {t['open']} pending or stale; "
            f"{t['tokens_in']:,} tokens in, {t['tokens_out']:,} out; {t['seconds']:.1f} s of model time")


def render_html(meta: dict, rows: list[dict]) -> str:
    model = meta.get("model") or {}
    head = [f"<h1>Batch analysis: {html.escape(str(meta.get('collection')))} ({html.escape(meta['mode'])})"
            "</h1>",
            f"<p>Model {html.escape(str(model.get('name')))} ({html.escape(str(model.get('kind')))}); "
            f"{html.escape(_totals_text(_totals(rows)))}.</p>"]
    if any(r["record"].get("random_weights") for r in rows):
        head.append(f'<div class="banner">{html.escape(RANDOM_WEIGHTS_LABEL)}</div>')
    toc, sections = [], []
    for i, doc_id in enumerate(dict.fromkeys(r["doc_id"] for r in rows)):
        group = [r for r in rows if r["doc_id"] == doc_id]
        name = html.escape(f"{doc_id} - {group[0]['title']}" if doc_id else group[0]["title"])
        toc.append(f'<li><a href="#d{i}">{name}</a> <span class=muted>'
                   f'{html.escape(_totals_text(_totals(group)))}</span></li>')
        body = "".join(_row_html(r) for r in group)
        sections.append(f'<section id="d{i}"><h2>{name}</h2><table><tr><th>Question</th><th>Answer</th>'
                        f"<th>Citations and evidence</th><th>Tokens in</th><th>Tokens out</th><th>Time</th>"
                        f"<th>Status</th></tr>{body}</table></section>")
    return ("<!doctype html><html><head><meta charset=utf-8><title>Batch analysis</title>"
            f"<style>{STYLE}</style></head><body>{''.join(head)}<ul>{''.join(toc)}</ul>"
            f"{''.join(sections)}</body></html>")


def write_report(out_dir: Path | str, csv_path: Path | None = None, html_path: Path | None = None
                 ) -> list[Path]:
    """Write ``report.csv`` and ``report.html`` (by default into the run's folder); return their paths."""
    out_dir = Path(out_dir)
    meta, rows = load_run(out_dir)
    csv_path = csv_path or out_dir / "report.csv"
    html_path = html_path or out_dir / "report.html"
    write_csv(csv_path, rows)
    html_path.write_text(render_html(meta, rows), encoding="utf-8")
    return [csv_path, html_path]
