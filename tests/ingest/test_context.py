import pytest

from ingest.chunking import word_starts
from ingest.context import CONTEXT_TOKENS, HeadingIndex, context_line, embedding_texts

TEXT = """# Medical history: Ada Moreau

## Summary

### Allergies
- latex: urticaria

## Encounters

### 2019-03-05 · Clinic
Potassium 4.3 mmol/L.

### 2020-01-04 · Clinic
Sodium 140 mmol/L.
"""


def _at(fragment: str) -> int:
    return TEXT.index(fragment)


def test_heading_path_is_the_enclosing_headings_outermost_first():
    index = HeadingIndex(TEXT)
    assert index.path(_at("- latex")) == ["Medical history: Ada Moreau", "Summary", "Allergies"]
    assert index.path(_at("Sodium")) == ["Medical history: Ada Moreau", "Encounters", "2020-01-04 · Clinic"]
    assert index.path(0) == []  # nothing encloses the first heading itself
    assert index.path(_at("## Encounters")) == ["Medical history: Ada Moreau", "Summary", "Allergies"]


def test_context_line_does_not_repeat_the_title_as_the_top_heading():
    line = context_line("Medical history: Ada Moreau", ["medical history: ada moreau", "Encounters"])
    assert line == "Medical history: Ada Moreau > Encounters"
    assert context_line("", ["Encounters"]) == "Encounters"


def test_embedding_texts_per_mode_keep_the_chunk_body_intact():
    spans = [(_at("- latex"), _at("- latex") + 18), (_at("Potassium"), _at("Potassium") + 21)]
    bodies = [TEXT[s:e] for s, e in spans]
    assert embedding_texts(TEXT, "Medical history: Ada Moreau", spans, "none", word_starts) == bodies
    titled = embedding_texts(TEXT, "Medical history: Ada Moreau", spans, "title", word_starts)
    assert titled == [f"Medical history: Ada Moreau\n\n{b}" for b in bodies]
    full = embedding_texts(TEXT, "Medical history: Ada Moreau", spans, "headings", word_starts)
    assert full[1] == "Medical history: Ada Moreau > Encounters > 2019-03-05 · Clinic\n\n" + bodies[1]
    with pytest.raises(ValueError, match="unknown chunk context"):
        embedding_texts(TEXT, "t", spans, "everything", word_starts)


def test_a_long_context_line_is_cut_at_the_token_cap():
    title = " ".join(f"word{i}" for i in range(200))
    (text,) = embedding_texts("body text", title, [(0, 9)], "title", word_starts)
    line, body = text.split("\n\n")
    assert len(word_starts(line)) == CONTEXT_TOKENS and body == "body text"
