"""Chunking: exact offsets, token limits, sentence boundaries, overlap, long documents."""

import time

import numpy as np
import pytest

from ingest.chunking import ChunkConfig, chunk_spans, sentence_spans, word_starts


def _words(text: str, span) -> int:
    return len(word_starts(text[span[0] : span[1]]))


def _history(n_visits: int) -> str:
    visits = []
    for i in range(n_visits):
        visits.append(
            f"## Visit {i}\nBlood pressure was {120 + i % 30}/{80 + i % 10} mmHg. Metformin {500 + i} mg "
            f"continued. Patient reports fatigue! Follow up in {i % 12 + 1} weeks?\n"
            f"- HbA1c {6 + i % 3}.{i % 10}%"
        )
    return "\n\n".join(visits)


def test_sentences_split_at_punctuation_and_lines_with_exact_offsets():
    text = "  First one. Second (really) one? \"Quoted.\" Third\n- a list item\n\n# Heading  "
    spans = sentence_spans(text)
    pieces = [text[s:e] for s, e in spans]
    assert pieces == [
        "First one.", "Second (really) one?", '"Quoted."', "Third", "- a list item", "# Heading"
    ]


def test_chunks_are_exact_slices_within_limit_and_cover_every_sentence():
    text = _history(200)
    cfg = ChunkConfig(max_tokens=60, overlap_tokens=15, overlap_sentences=2)
    spans = chunk_spans(text, word_starts, cfg)
    assert len(spans) > 20
    assert all(_words(text, sp) <= 60 for sp in spans)
    assert all(text[s:e] == text[s:e].strip() and e > s for s, e in spans)
    starts = [s for s, _ in spans]
    assert starts == sorted(starts)
    covered = np.zeros(len(text), dtype=bool)
    for s, e in spans:
        covered[s:e] = True
    for s, e in sentence_spans(text):  # every sentence lies wholly inside some chunk
        assert any(cs <= s and e <= ce for cs, ce in spans), text[s:e]
    # chunks end at sentence ends: the character after a chunk is whitespace or the end of the text
    assert all(e == len(text) or text[e].isspace() for _, e in spans)


def test_consecutive_chunks_overlap_by_whole_sentences():
    text = " ".join(f"Sentence number {i} has six words." for i in range(100))
    spans = chunk_spans(text, word_starts, ChunkConfig(max_tokens=30, overlap_tokens=12, overlap_sentences=2))
    for (s1, e1), (s2, e2) in zip(spans, spans[1:], strict=False):
        assert s1 < s2 < e1 < e2  # the next chunk starts inside this one: shared sentences
        shared = text[s2:e1]
        assert shared.endswith(".") and _words(text, (s2, e1)) <= 12
    no_overlap = chunk_spans(text, word_starts, ChunkConfig(max_tokens=30, overlap_tokens=0))
    assert all(e1 < s2 for (_, e1), (s2, _) in zip(no_overlap, no_overlap[1:], strict=False))
    assert len(no_overlap) < len(spans)


def test_a_sentence_longer_than_the_limit_is_cut_at_token_boundaries():
    text = "Intro. " + " ".join(f"tok{i}" for i in range(250)) + " end"
    spans = chunk_spans(text, word_starts, ChunkConfig(max_tokens=100, overlap_tokens=10))
    assert all(_words(text, sp) <= 100 for sp in spans)
    joined = " ".join(text[s:e] for s, e in spans)
    assert all(f"tok{i} " in joined + " " for i in range(250))


def test_empty_and_whitespace_text_give_no_chunks():
    assert chunk_spans("", word_starts) == []
    assert chunk_spans(" \n\n \t", word_starts) == []


def test_no_chunk_is_a_subset_of_its_predecessor():
    text = "a b. c d. e f.\n" + " ".join(["word"] * 80) + "."
    spans = chunk_spans(text, word_starts, ChunkConfig(max_tokens=40, overlap_tokens=10))
    for (_, e1), (_, e2) in zip(spans, spans[1:], strict=False):
        assert e2 > e1


def test_half_a_million_characters_chunk_in_well_under_a_second():
    text = _history(4000)
    assert len(text) > 500_000
    starts = word_starts(text)
    t0 = time.perf_counter()
    spans = chunk_spans(text, lambda _: starts, ChunkConfig())
    elapsed = time.perf_counter() - t0
    assert len(spans) > 300
    assert elapsed < 1.0, f"chunking took {elapsed:.2f} s"


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        ChunkConfig(max_tokens=4)
    with pytest.raises(ValueError):
        ChunkConfig(max_tokens=50, overlap_tokens=50)
