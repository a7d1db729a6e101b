"""Which sections a reduction may keep, and how it reports whether it kept them all."""

from retrieval.reduce import analyze, reduce_document, relevant_units, score_units
from retrieval.types import ChunkHit
from tests.retrieval.helpers import count_words, paragraphs

QUESTION = "Which patients have a documented allergy to latex?"


def unwrapped(text: str) -> str:
    return text


def history() -> str:
    return ("Patient ID: P1. Synthetic record.\n\n"
            + paragraphs(30, words=20)
            + "\n\nAllergy list reviewed: latex causes urticaria.\n\n"
            + "Allergy list reviewed again at the annual visit, unchanged.\n\n"
            + paragraphs(10, words=20, topic="closing"))


def relevant_texts(text: str, question: str, hits=()) -> list[str]:
    analysis = analyze(text, count_words)
    mask = relevant_units(analysis.units, score_units(analysis, question, hits))
    return [text[u.start:u.end] for u, keep in zip(analysis.units, mask, strict=True) if keep]


def test_relevant_units_are_the_strong_matches_and_the_opening():
    kept = relevant_texts(history(), QUESTION)
    assert kept[0].startswith("Patient ID: P1.")  # whose record it is
    assert "Allergy list reviewed: latex causes urticaria." in kept
    assert not any(t.startswith("Entry") for t in kept)  # routine visits match no question term


def test_units_under_the_best_retrieval_hit_are_relevant_without_shared_words():
    text = history()
    start = text.index("Entry 12 notes")
    hit = ChunkHit(chunk_id=7, start=start, end=start + 30, score=0.8, source="dense")
    assert any(t.startswith("Entry 12 notes") for t in relevant_texts(text, QUESTION, (hit,)))


def test_a_document_matching_nothing_is_kept_from_its_beginning():
    text = paragraphs(20, words=20)
    assert len(relevant_texts(text, "anticoagulation")) == 20
    cut = reduce_document(text, "anticoagulation", 100, count_words, unwrapped)
    assert cut.text.startswith("Entry 0 notes") and "Entry 1 notes" in cut.text and not cut.complete


def test_reduction_keeps_only_relevant_units_and_says_when_it_is_complete():
    text = history()
    roomy = reduce_document(text, QUESTION, 5000, count_words, unwrapped)
    assert roomy.complete and roomy.n_tokens < 80  # the room is not padded with routine visits
    assert "latex causes urticaria." in roomy.text and "Entry 5 notes" not in roomy.text
    tight = reduce_document(text, "latex allergy", roomy.n_tokens - 1, count_words, unwrapped)
    assert tight is not None and not tight.complete and tight.n_tokens < roomy.n_tokens
    assert "latex causes urticaria." in tight.text  # the best match survives the cut
    assert reduce_document(text, QUESTION, 3, count_words, unwrapped) is None


def test_adjacent_kept_units_share_one_elision_mark_budget():
    # Ten neighbouring relevant paragraphs form one kept run: two marks around it, not one per unit.
    text = (paragraphs(20, words=20) + "\n\n"
            + "\n\n".join(f"Latex reaction {i} documented." for i in range(10)) + "\n\n"
            + paragraphs(20, words=20, topic="later"))
    cut = reduce_document(text, "latex reaction", 85, count_words, unwrapped)
    assert cut.complete and cut.text.count("omitted ...]") == 2  # after the opening paragraph, at the end
    assert all(f"Latex reaction {i} documented." in cut.text for i in range(10))


def test_beyond_relevant_fills_the_room_after_the_relevant_units():
    text = history()
    only = reduce_document(text, QUESTION, 300, count_words, unwrapped)
    wide = reduce_document(text, QUESTION, 300, count_words, unwrapped, beyond_relevant=True)
    assert wide.complete and wide.n_tokens > 250 > only.n_tokens
    assert "latex causes urticaria." in wide.text and "Patient ID: P1." in wide.text
    for a, b in only.kept:  # the relevant units are all still in
        assert any(start <= a and b <= end for start, end in wide.kept)
