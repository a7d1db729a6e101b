"""Documents and answers as safe HTML/Markdown: evidence spans highlighted, citations emphasized.

Pure functions, no Streamlit: the pages hand their output to ``st.html`` / ``st.markdown``.

Documents are untrusted input (an uploaded HTML page, a FHIR note someone typed), so every character
of document text is escaped before it meets markup; the only tags in the output are the ones built
here, and the only ids are generated ones. That is what makes it safe to let the viewer's own small
script run (it scrolls the first highlight into view).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

VIEWER_HEIGHT_PX = 460  # tall enough for a few paragraphs around the evidence, short enough to see the chat

_CSS = """
<style>
.docqa-doc { max-height: VIEWER_HEIGHTpx; overflow-y: auto; white-space: pre-wrap; overflow-wrap: anywhere;
  font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.85rem; line-height: 1.45;
  padding: 0.75rem; border: 1px solid rgba(128,128,128,0.35); border-radius: 0.5rem; }
.docqa-doc mark { background: #ffe58a; color: #111; padding: 0 1px; border-radius: 2px; }
.docqa-doc mark.docqa-focus { background: #ffb347; outline: 2px solid #e67e00; }
</style>
""".replace("VIEWER_HEIGHT", str(VIEWER_HEIGHT_PX))


def merge_spans(spans: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Spans clipped to [0, length), empty ones dropped, overlapping or touching ones merged, sorted."""
    clipped = sorted((max(0, int(s)), min(length, int(e))) for s, e in spans)
    out: list[tuple[int, int]] = []
    for s, e in clipped:
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def safe_id(text: str) -> str:
    """An HTML id fragment from any string (document ids may hold '/', '.', '%')."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:80] or "x"


def highlight_html(text: str, spans: Sequence[tuple[int, int]], *, id_prefix: str = "ev",
                   focus: tuple[int, int] | None = None) -> tuple[str, str | None]:
    """The document as escaped HTML with each evidence span in ``<mark id="{id_prefix}-{i}">``.

    Returns (html, id of the mark to scroll to): the merged span containing ``focus``, else the first.
    """
    prefix = safe_id(id_prefix)
    merged = merge_spans(spans, len(text))
    parts: list[str] = [_CSS, f'<div class="docqa-doc" id="{prefix}-doc">']
    target = None
    at = 0
    for i, (s, e) in enumerate(merged):
        mark_id = f"{prefix}-{i}"
        focused = focus is not None and s <= focus[0] < e
        if focused or (target is None and focus is None):
            target = mark_id
        cls = "docqa-ev docqa-focus" if focused else "docqa-ev"
        parts.append(html.escape(text[at:s]))
        parts.append(f'<mark id="{mark_id}" class="{cls}">{html.escape(text[s:e])}</mark>')
        at = e
    if target is None and merged:
        target = f"{prefix}-0"
    parts.append(html.escape(text[at:]))
    parts.append("</div>")
    return "".join(parts), target


def scroll_script(mark_id: str) -> str:
    """A script that scrolls the viewer (and the page) to one mark. ``mark_id`` comes from
    ``highlight_html``, so it is always [A-Za-z0-9_-]; the check below keeps it that way."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", mark_id):
        raise ValueError(f"not a generated mark id: {mark_id!r}")
    # Streamlit inserts the HTML after the script starts; retry briefly until the mark exists.
    return (
        "<script>(function(){var n=0;function go(){var m=document.getElementById('MARK_ID');"
        "if(m){m.scrollIntoView({block:'center'});}else if(n++<40){setTimeout(go,50);}}go();})();"
        "</script>"
    ).replace("MARK_ID", mark_id)


_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")
_MD_LINKISH = re.compile(r"([\\\[\]$<])")


def md_escape(text: str) -> str:
    """Plain text for a Markdown label (a button, a heading): every Markdown character escaped.

    Streamlit labels render Markdown, images included, so an untrusted title like ``![](http://x)``
    would make the browser fetch a remote URL; escaped, it is just text."""
    return _MD_PUNCT.sub(r"\\\1", " ".join(str(text).split()))


def md_safe(text: str) -> str:
    """Model output as Markdown that keeps lists, bold and headings but cannot link or embed.

    Brackets are escaped (no links or images, so nothing is fetched from elsewhere), ``<`` too (no
    autolinks), and dollar signs (Streamlit would read "$5 ... $10" as LaTeX)."""
    return _MD_LINKISH.sub(r"\\\1", text)


def answer_markdown(text: str, groups: Iterable[tuple[int, int, bool]]) -> str:
    """The answer as safe Markdown with each citation group in bold (valid) or struck through (invalid).

    ``groups`` are (start, end, valid) character ranges of bracketed citations in ``text``.
    """
    out, at = [], 0
    for s, e, valid in sorted(set(groups)):
        if s < at:
            continue
        out.append(md_safe(text[at:s]))
        inner = md_safe(text[s:e])
        out.append(f"**{inner}**" if valid else f"~~{inner}~~ ⚠")
        at = e
    out.append(md_safe(text[at:]))
    return "".join(out)


def passage_html(text: str) -> str:
    """An evidence passage as an escaped, quoted block (document text is never Markdown-rendered)."""
    body = html.escape(" ".join(text.split()))
    return ('<blockquote style="margin:0.25rem 0;padding:0.25rem 0.75rem;border-left:3px solid #e6a700;'
            f'white-space:pre-wrap;overflow-wrap:anywhere">{body}</blockquote>')


def citation_groups(citations) -> list[tuple[int, int, bool]]:
    """(start, end, valid) for every bracket group; a group with any invalid id counts as invalid."""
    valid: dict[tuple[int, int], bool] = {}
    for c in citations:
        for mark in c.marks:
            valid[mark] = valid.get(mark, True) and c.valid
    return [(s, e, ok) for (s, e), ok in valid.items()]
