"""How packing shares the room among documents too large to go in whole (issue 4): every relevant
record by its relevant sections, rather than one record padded out with the whole room."""

import re

from retrieval.pack import pack
from retrieval.sections import split_units
from tests.retrieval.helpers import count_words, make_doc, paragraphs, scored

LATEX = "Which patients have a documented allergy to latex?"
MARK = re.compile(r"\[\.\.\. \d+ (paragraphs?|sentences?|passages?) \(~[\d,]+ tokens\) omitted \.\.\.\]")


def record(pid: str, name: str, allergy: str, visits: int = 60) -> str:
    """A long patient history: who, an allergy list, then many routine visits (~30 words each)."""
    return (f"# Medical history: {name}\n\nPatient ID: {pid}. Born 1950. Synthetic record.\n\n"
            f"### Allergies\n\n- {allergy}: contact urticaria.\n\n### Visits\n\n"
            + paragraphs(visits, words=30, topic=f"{pid} visit"))


def patients():
    """Three latex-allergic records (the gold answer) ranked 1, 3 and 4 among five, as the sample
    question ranks them; ~1,850 words each."""
    rows = [("P4", "Dorothy Vargas", "latex"), ("P8", "Ann Lee", "penicillin"),
            ("P23", "Esther Fischer", "latex"), ("P1", "Tobias Kowalski", "latex"),
            ("P9", "Raj Patel", "sulfa")]
    return [scored(make_doc(pid, record(pid, name, allergy), title=f"Medical history: {name}"), 10.0 - i)
            for i, (pid, name, allergy) in enumerate(rows)]


def assert_clean_cuts(packed, ranked):
    """Budget kept; every reduced document marks its cuts, has a note, and keeps whole sentences."""
    assert packed.prompt_tokens <= packed.budget - packed.reserve
    texts = {sd.doc_id: sd.document.text for sd in ranked}
    for d in packed.documents:
        if not d.reduced:
            continue
        assert MARK.search(d.text) and any(n.startswith(f"{d.doc_id}: reduced") for n in packed.notes)
        bounds = split_units(texts[d.doc_id])
        for a, b in d.kept:
            assert a in {u.start for u in bounds} and b in {u.end for u in bounds}
            assert texts[d.doc_id][a:b] in d.text and texts[d.doc_id][a:b][-1] in ".!?"
    assert len(packed.notes) == sum(d.reduced for d in packed.documents) + len(packed.dropped)


def test_every_relevant_record_is_represented_by_its_relevant_sections():
    ranked = patients()  # a budget smaller than any one record: it once held the first record only
    packed = pack(ranked, question=LATEX, budget=1800, count_tokens=count_words, reserve=0)
    by_id = {d.doc_id: d for d in packed.documents}
    for pid in ("P4", "P23", "P1"):
        assert by_id[pid].reduced
        assert "- latex: contact urticaria." in by_id[pid].text
        assert f"Patient ID: {pid}." in by_id[pid].text  # whose record it is
    # Depth by rank: the top record has the most context around its match, the next ones less.
    assert by_id["P4"].n_tokens > by_id["P23"].n_tokens > by_id["P1"].n_tokens
    assert_clean_cuts(packed, ranked)


def test_a_lone_huge_relevant_document_gets_the_whole_room():
    text = "\n\n".join(f"Visit {i}: warfarin dose reviewed, INR {2 + i % 3}.{i % 10} on the day. " + "x " * 20
                       + "Plan unchanged." for i in range(200))
    ranked = [scored(make_doc("BIG", text))]
    packed = pack(ranked, question="warfarin INR history", budget=900, count_tokens=count_words, reserve=100)
    (d,) = packed.documents
    room = 800 - packed.overhead_tokens
    assert d.reduced and d.n_tokens <= room
    assert d.n_tokens > room - 2 * 35  # full to within a unit and its elision mark
    assert_clean_cuts(packed, ranked)


def test_leftover_room_goes_back_to_a_reduction_the_share_cut_short():
    heavy = "\n\n".join(f"Latex reaction {i}: hives after gloves, treated. " + "y " * 25 + "Resolved."
                        for i in range(40))  # every paragraph relevant: needs far more than half the room
    small = scored(make_doc("S0", "Latex glove policy. " + paragraphs(3, words=30)), 1.0)
    ranked = [scored(make_doc("HEAVY", heavy), 3.0), patients()[0], small]
    packed = pack(ranked, question=LATEX, budget=1400, count_tokens=count_words, reserve=0)
    room = 1400 - packed.overhead_tokens
    by_id = {d.doc_id: d for d in packed.documents}
    assert set(by_id) == {"HEAVY", "P4", "S0"} and by_id["S0"].whole
    assert "- latex: contact urticaria." in by_id["P4"].text
    assert by_id["HEAVY"].n_tokens > room // 2 + 100  # past its first-pass share: the small one left room
    assert packed.document_tokens > room - 2 * 45  # the room is used, to within a unit
    assert_clean_cuts(packed, ranked)


def test_whole_documents_that_fit_still_go_in_whole_after_a_reduction():
    heavy = "\n\n".join(f"Latex allergy note {i}: documented reaction. " + "z " * 25 + "Noted."
                        for i in range(40))
    small = [scored(make_doc(f"S{i}", f"Latex glove policy {i}. " + paragraphs(3, words=30)), 2.0 - i / 10)
             for i in range(3)]
    ranked = [scored(make_doc("HEAVY", heavy), 3.0), *small]
    packed = pack(ranked, question=LATEX, budget=1000, count_tokens=count_words, reserve=0)
    by_id = {d.doc_id: d for d in packed.documents}
    assert all(by_id[f"S{i}"].whole for i in range(3))
    assert by_id["HEAVY"].reduced and packed.dropped == ()
    assert packed.document_tokens > 1000 - packed.overhead_tokens - 2 * 40
    assert_clean_cuts(packed, ranked)


def test_packing_is_deterministic_and_never_exceeds_the_budget():
    ranked = patients()
    for budget in (400, 700, 1000, 2500, 6000, 12000):
        first = pack(ranked, question=LATEX, budget=budget, count_tokens=count_words, reserve=100)
        again = pack(ranked, question=LATEX, budget=budget, count_tokens=count_words, reserve=100)
        assert first == again
        assert first.prompt_tokens <= budget - 100
        assert sorted(first.doc_ids + [d.doc_id for d in first.dropped]) == sorted(sd.doc_id for sd in ranked)
        assert_clean_cuts(first, ranked)
