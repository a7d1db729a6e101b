"""Document and answer rendering: untrusted text is escaped, evidence spans land on the right characters."""

import pytest

from app.types import Citation
from app.ui.highlight import (
    answer_markdown,
    citation_groups,
    highlight_html,
    md_escape,
    md_safe,
    merge_spans,
    scroll_script,
)

HOSTILE = 'Dose 5 mg <script>alert("x")</script> & <img src=http://evil/x.png onerror=alert(1)> done.'


def test_document_text_is_escaped_and_only_generated_marks_remain():
    start = HOSTILE.index("<script>")
    out, target = highlight_html(HOSTILE, [(start, start + 8)], id_prefix="t")
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;" in out and "&lt;img src=http://evil/x.png" in out and "&amp;" in out
    assert target == "t-0" and '<mark id="t-0" class="docqa-ev">&lt;script&gt;</mark>' in out


def test_spans_are_merged_clipped_and_the_focus_is_the_scroll_target():
    assert merge_spans([(5, 9), (0, 3), (2, 4), (8, 12), (20, 30), (7, 7)], 25) == [(0, 4), (5, 12), (20, 25)]
    text = "alpha beta gamma delta"
    out, target = highlight_html(text, [(0, 5), (11, 16)], id_prefix="doc/1", focus=(11, 16))
    assert target == "doc_1-1"
    assert '<mark id="doc_1-0" class="docqa-ev">alpha</mark>' in out
    assert '<mark id="doc_1-1" class="docqa-ev docqa-focus">gamma</mark>' in out
    assert highlight_html(text, [])[1] is None


def test_the_scroll_script_accepts_only_generated_ids():
    assert "getElementById('t-0')" in scroll_script("t-0")
    with pytest.raises(ValueError):
        scroll_script("x');alert(1);('")


def test_markdown_from_documents_and_models_cannot_link_or_embed():
    assert md_escape("![x](http://e/p.png) *b*") == r"\!\[x\]\(http\://e/p\.png\) \*b\*"
    safe = md_safe("see ![img](http://e/p.png) and [link](http://e) for $5 or $10")
    assert "![" not in safe and "](" not in safe.replace(r"\](", "")
    assert r"\$5" in safe and r"\$10" in safe


def test_citations_are_bold_when_valid_and_struck_through_when_not():
    text = "INR 2.4 [P0002]; dose [P0404]."
    cites = [Citation("P0002", True, marks=((8, 15),)), Citation("P0404", False, marks=((22, 29),))]
    assert answer_markdown(text, citation_groups(cites)) == r"INR 2.4 **\[P0002\]**; dose ~~\[P0404\]~~ ⚠."
    shared = [Citation("A", True, marks=((0, 6),)), Citation("B", False, marks=((0, 6),))]
    assert citation_groups(shared) == [(0, 6, False)]  # one bad id taints its bracket group
