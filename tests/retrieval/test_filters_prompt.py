import datetime as dt

import pytest

from retrieval.errors import BadFilter
from retrieval.filters import Filters
from retrieval.prompt import wrap_document

PATIENT = {"kind": "patient_history", "patient_id": "P0007", "first_date": "2015-03-02",
           "last_date": "2021-11-20", "source": "patients/P0007.md"}


def test_filters_combine_with_and_and_accept_several_values():
    assert Filters().matches("P0007", PATIENT) and not Filters().active
    assert Filters(patient_id=("P0001", "P0007")).matches("P0007", PATIENT)
    assert not Filters(patient_id="P0001").matches("P0007", PATIENT)
    assert Filters(kind="patient_history", source="patients/*.md").matches("P0007", PATIENT)
    assert not Filters(kind="guideline").matches("P0007", PATIENT)
    assert not Filters(source="reference/*").matches("P0007", PATIENT)


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("2021-01-01", None, True),  # overlaps the end of the record
    (None, "2015-03-02", True),  # touches its first day
    ("2021-11-21", None, False),  # after it
    (None, "2014-12-31", False),  # before it
    ("2016", "2017-06", True),  # partial dates
    (dt.date(2018, 1, 1), dt.date(2018, 2, 1), True),
])
def test_date_range_keeps_overlapping_records(start, end, expected):
    assert Filters(date_from=start, date_to=end).matches("P0007", PATIENT) is expected


def test_date_filter_drops_undated_documents_and_rejects_bad_dates():
    assert not Filters(date_from="2020-01-01").matches("ref", {"kind": "monograph"})
    with pytest.raises(BadFilter, match="YYYY-MM-DD"):
        Filters(date_from="last tuesday")
    with pytest.raises(BadFilter, match="after"):
        Filters(date_from="2022-01-01", date_to="2021-01-01")


def test_wrapper_carries_id_title_metadata_and_escapes_attributes():
    wrapped = wrap_document("P0007", 'Jane "JJ" <Roe>', PATIENT, "Body text.")
    first_line = wrapped.splitlines()[0]
    assert first_line == ('<document id="P0007" title="Jane &quot;JJ&quot; &lt;Roe&gt;" '
                          'kind="patient_history" dates="2015-03-02 to 2021-11-20" '
                          'source="patients/P0007.md">')
    assert wrapped.endswith("Body text.\n</document>")
    assert 'excerpt="true"' in wrap_document("X", "", {}, "t", excerpt=True)
