from retrieval.sections import sentences, split_units

TEXT = """# Patient P0007

Seen by Dr. Smith on 2021-03-04. HbA1c was 7.9%. Plan e.g. diet and metformin.

## 2021-05-01 Clinic visit
Follow-up note.

Second paragraph of the visit."""


def test_units_cover_text_in_order_and_remember_headings():
    units = split_units(TEXT)
    assert [u.kind for u in units] == ["heading", "paragraph", "heading", "paragraph", "paragraph"]
    assert [u.start for u in units] == sorted(u.start for u in units)
    inside = set().union(*(range(u.start, u.end) for u in units))
    assert all(i in inside for i, c in enumerate(TEXT) if not c.isspace())
    assert units[3].heading == 2 and units[4].heading == 2 and units[1].heading == 0


def test_sentences_do_not_split_abbreviations_or_decimals():
    start = TEXT.index("Seen")
    end = TEXT.index("metformin.") + len("metformin.")
    got = [TEXT[a:b] for a, b in sentences(TEXT, start, end)]
    assert got == ["Seen by Dr. Smith on 2021-03-04.", "HbA1c was 7.9%.", "Plan e.g. diet and metformin."]


def test_long_paragraph_is_split_into_whole_sentences():
    sentence_list = [f"Sentence number {i} says something about dose {i}.5 mg." for i in range(200)]
    text = " ".join(sentence_list)
    units = split_units(text, max_unit_chars=500)
    assert [u.kind for u in units] == ["sentence"] * 200
    assert [text[u.start:u.end] for u in units] == sentence_list
