"""The Batch page under AppTest: a questions file over the collection, run in the background, progress
read back from the run folder, results browsed and offered for download."""

import time

from streamlit.testing.v1 import AppTest

from tests.app.ui.conftest import COLLECTION, MAIN, RUN_TIMEOUT

QUESTIONS = b"""questions:
  - id: anticoagulant
    text: Which anticoagulant is the patient on?
  - id: allergy
    text: Is a penicillin allergy documented?
    choices: ["yes", "no", "not documented"]
"""


def _batch_page() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT).run()
    at.switch_page("page_batch.py").run()
    assert not at.exception, at.exception
    return at


def _wait_done(at: AppTest, timeout: float = RUN_TIMEOUT) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        texts = [p.proto.text for p in at.get("progress")]
        if texts and "running" not in texts[0] and "items done" in texts[0]:
            return texts[0]
        time.sleep(0.5)
    raise AssertionError(f"the run did not finish in {timeout} s: {texts}")


def test_a_per_document_run_finishes_and_offers_its_results(ui_env):
    at = _batch_page()
    assert next(b for b in at.button if b.key == "batch_start").disabled  # no questions yet
    at.file_uploader[0].set_value(("questions.yaml", QUESTIONS, "application/yaml")).run()
    assert any("2 question(s)" in c.value for c in at.caption)
    next(m for m in at.multiselect if m.label == "Documents (empty: all)").set_value(["P0002", "P0003"]).run()
    next(b for b in at.button if b.key == "batch_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert _wait_done(at).startswith("4 / 4 items done, 0 failed")
    table = at.dataframe[0].value
    assert sorted(set(table["document"])) == ["P0002", "P0003"] and set(table["status"]) == {"ok"}
    assert [d.label for d in at.get("download_button")] == ["results.jsonl", "report.csv", "report.html"]
    results = ui_env / ".batch" / f"{COLLECTION}-per-document" / "results.jsonl"
    assert len(results.read_text().splitlines()) == 4


def test_a_bad_questions_file_is_explained_and_nothing_starts(ui_env):
    at = _batch_page()
    at.file_uploader[0].set_value(("questions.yaml", b"questions:\n  - id: a\n", "application/yaml")).run()
    assert at.error and "problem" in at.error[0].value
    assert next(b for b in at.button if b.key == "batch_start").disabled
    assert not (ui_env / ".batch").exists()
