"""HTML pages: the main text, no markup, with BeautifulSoup (own code: llama-index-core's HTML handling
keeps navigation chrome and flattens structure).

Scripts, styles, navigation, headers, footers and asides are dropped; headings become Markdown ``#``
lines, list items ``- `` lines, table rows cells joined by `` | ``, and other blocks paragraphs. The
stdlib ``html.parser`` backend is used on purpose: it never expands DTD entities, so an entity bomb
is inert text, and the size limit bounds everything else. Text extraction walks the tree without
recursion and without editing the tree, so pathologically deep nesting costs linear time and cannot
overflow the stack.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, ProcessingInstruction

from ingest.readers.base import (
    ReadOptions,
    decode_text,
    make_doc_id,
    read_bytes,
    relative_posix,
    require_text,
)
from ingest.types import ParsedDocument

DROP = {
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "aside",
    "noscript",
    "template",
    "svg",
    "form",
    "iframe",
}
BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "address",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "details",
    "summary",
    "hr",
    "body",
}
HEADINGS = {f"h{i}": i for i in range(1, 7)}


_BLOCK_END = object()  # stack marker: a block element's children are done


def html_to_text(soup: BeautifulSoup) -> str:
    """Flatten a parsed page into paragraphs separated by blank lines, in one linear pass."""
    for tag in soup.find_all(DROP):
        tag.decompose()
    out: list[str] = []
    stack: list = [soup]
    while stack:
        node = stack.pop()
        if node is _BLOCK_END:
            out.append("\n\n")
            continue
        if isinstance(node, Comment | Doctype | Declaration | ProcessingInstruction):
            continue
        if isinstance(node, NavigableString):
            out.append(str(node))
            continue
        name = node.name
        if name in HEADINGS:
            out.append("\n\n" + "#" * HEADINGS[name] + " ")
        elif name == "li":
            out.append("\n- ")
        elif name in ("tr", "br"):
            out.append("\n")
        elif name in ("td", "th"):
            out.append(" | ")  # the leading one of each row is trimmed in _collapse
        elif name in BLOCKS:
            out.append("\n\n")
        if name in HEADINGS or name in BLOCKS:
            stack.append(_BLOCK_END)
        stack.extend(reversed(node.contents))
    return _collapse("".join(out))


def _collapse(text: str) -> str:
    text = text.replace("\xa0", " ")
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.split("\n")]
    lines = [line[2:] if line.startswith("| ") else line for line in lines]
    blocks, current = [], []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return "\n\n".join(block for block in blocks if block.strip("#-| "))


def read_html(path: Path, root: Path, options: ReadOptions) -> list[ParsedDocument]:
    """One document per HTML file: the page's readable text."""
    raw = decode_text(read_bytes(path, options), path, options, what="HTML file")
    soup = BeautifulSoup(raw, "html.parser")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text().split()) if title_tag else ""
    if title_tag:
        title_tag.decompose()
    text = require_text(html_to_text(soup), path, "the HTML page")
    if not title:
        h1 = re.search(r"^# (.+)$", text, re.MULTILINE)
        title = h1.group(1) if h1 else path.name
    rel = relative_posix(path, root)
    return [
        ParsedDocument(
            doc_id=make_doc_id(rel),
            title=title,
            text=text,
            source=rel,
            kind="html",
            metadata={"path": rel, "kind": "html"},
        )
    ]
