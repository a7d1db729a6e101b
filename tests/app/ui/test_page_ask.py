"""The Ask page under Streamlit's AppTest: the real entry point, the tiny checkpoint, a real collection."""

import threading
import time

from streamlit.testing.v1 import AppTest

from app.ui import catalog, resources
from model.client import OpenAIBackend
from model.serve import create_app
from model.serve.thread import ServerThread
from tests.app.conftest import PATIENTS
from tests.app.ui.conftest import COLLECTION, MAIN, RUN_TIMEOUT

QUESTION = "When was warfarin started for the atrial fibrillation?"


def _ask(at: AppTest, question: str = QUESTION) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def _keys(at: AppTest, prefix: str) -> list:
    return [b for b in at.button if (b.key or "").startswith(prefix)]


def _texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def _context_label(at: AppTest) -> str:
    return next(e.label for e in at.expander if e.label.startswith("Context:"))


def test_answer_streams_with_evidence_first_sources_and_context(app):
    assert any("random weights" in w.value for w in app.warning)  # the banner, before any question
    _ask(app)
    assert QUESTION in _texts(app)  # the question stays in the chat
    labels = [e.label for e in app.expander]
    assert "Generated text: random weights, noise" in labels  # the evidence leads, the noise is labelled
    evidence = [h.proto.body for h in app.get("html") if "<blockquote" in h.proto.body]
    assert evidence and any("Warfarin started 2019-02-01" in body for body in evidence)
    assert _keys(app, "cite-") and _keys(app, "ev-")
    assert "document(s) read" in _context_label(app)
    packed = app.dataframe[0].value
    assert "P0002" in list(packed["document"]) and set(packed["read"]) <= {"whole", "reduced"}
    assert any("Budget:" in p.proto.text for p in app.get("progress"))
    assert [m.label for m in app.metric][:4] == ["Retrieval", "Packing", "First token", "Speed"]


def test_citation_opens_the_document_at_its_highlighted_evidence(app):
    _ask(app)
    cite = next(b for b in _keys(app, "cite-") if "P0002" in b.label)
    cite.click().run()
    viewers = [h.proto.body for h in app.get("html") if "docqa-focus" in h.proto.body]
    assert len(viewers) == 1
    body = viewers[0]
    focused = body.split('docqa-focus">', 1)[1].split("</mark>", 1)[0]
    assert focused and focused in PATIENTS["P0002"][3]  # a real passage of the cited document
    assert "scrollIntoView" in body and "Ben Okafor" in body
    next(b for b in app.button if (b.key or "").startswith("close-")).click().run()
    assert not [h for h in app.get("html") if "docqa-focus" in h.proto.body]


def test_history_is_kept_and_each_turn_keeps_its_sources(app):
    _ask(app)
    _ask(app, "Which patient has a penicillin allergy?")
    assert QUESTION in _texts(app) and "Which patient has a penicillin allergy?" in _texts(app)
    assert len([e for e in app.expander if e.label.startswith("Context:")]) == 2
    owners = {b.key.split("-")[1] for b in _keys(app, "cite-")}
    assert len(owners) == 2


def test_picked_documents_come_first_and_filters_narrow_the_rest(app):
    picker = next(m for m in app.multiselect if m.label == "Read these documents")
    picker.set_value(["P0003"])
    next(m for m in app.multiselect if m.label == "Kind").set_value(["monograph"])
    app.run()
    _ask(app, "warfarin INR target")
    packed = app.dataframe[0].value
    docs = list(packed["document"])
    assert "P0003" in docs and bool(packed[packed["document"] == "P0003"]["picked"].iloc[0])
    assert set(docs) - {"P0003"} <= {"ref-warfarin", "ref-metformin"} and "ref-warfarin" in docs


def test_an_empty_question_is_refused_politely(app):
    _ask(app, "   ")
    assert any("empty" in w.value for w in app.warning)
    assert not _keys(app, "cite-") and not app.error


def test_bad_filters_keep_the_question_with_the_reason(app):
    import datetime as dt

    inputs = {d.label: d for d in app.date_input}
    inputs["From"].set_value(dt.date(2020, 1, 1))
    inputs["To"].set_value(dt.date(2019, 1, 1))
    app.run()
    _ask(app)
    assert QUESTION in _texts(app)
    assert any("Check the filters" in e.value and "after" in e.value for e in app.error)
    assert _keys(app, "retry-")


def test_a_model_that_fails_to_load_keeps_the_question_and_recovers(ui_env, monkeypatch, checkpoint,
                                                                    tmp_path):
    monkeypatch.setenv("DOCQA_MODEL", str(tmp_path / "no-such-checkpoint"))
    at = AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT).run()
    assert not at.exception
    assert any("model is not available" in e.value for e in at.error)
    _ask(at)
    assert QUESTION in _texts(at) and _keys(at, "retry-")
    next(t for t in at.text_input if t.label == "Checkpoint").set_value(str(checkpoint)).run()
    _keys(at, "retry-")[0].click().run()  # "Ask again" with the fixed setting
    assert not at.exception
    assert _texts(at).count(QUESTION) == 2 and "document(s) read" in _context_label(at)


def test_a_server_that_goes_away_mid_session_leaves_a_friendly_error(ui_env, monkeypatch, engine_backend,
                                                                      checkpoint):
    with ServerThread(create_app(engine_backend.engine)) as srv:
        monkeypatch.setenv("DOCQA_SERVER_URL", srv.url)
        at = AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT).run()
        assert not at.exception and not at.error
        assert isinstance(resources.backend(at.session_state["docqa_config"].settings), OpenAIBackend)
    _ask(at)  # the server is gone now
    assert QUESTION in _texts(at)
    errors = [e.value for e in at.error]
    assert any("incomplete" in e for e in errors), errors
    assert _keys(at, "retry-") and _keys(at, "ev-")  # retry offered; the evidence is still shown


def test_a_model_with_real_weights_leads_with_its_answer(ui_env, monkeypatch, checkpoint, tmp_path):
    import json
    import shutil

    real = tmp_path / "unlabelled"
    shutil.copytree(checkpoint, real)
    config = json.loads((real / "config.json").read_text())
    (real / "config.json").write_text(json.dumps({**config, "docqa_random_weights": False}))
    monkeypatch.setenv("DOCQA_MODEL", str(real))
    at = _ask(AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT).run())
    assert not any("random weights" in w.value for w in at.warning)  # no banner, no noise label
    labels = [e.label for e in at.expander]
    assert "Generated text: random weights, noise" not in labels and "Evidence passages" in labels
    assert labels.index("Evidence passages") < labels.index(_context_label(at))
    _keys(at, "ev-")[0].click().run()  # evidence still opens in place
    assert [h for h in at.get("html") if "docqa-focus" in h.proto.body]


def test_a_collection_without_documents_says_so(ui_env):
    catalog.remove(ui_env, COLLECTION, [d.doc_id for d in catalog.documents(ui_env, COLLECTION)])
    at = AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT).run()
    assert any("has no documents" in i.value for i in at.info)
    assert at.chat_input[0].proto.disabled


def test_no_collections_points_to_the_documents_page(ui_env, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCQA_DATA_DIR", str(tmp_path / "empty"))
    at = AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT).run()
    assert not at.exception
    assert any("No collections" in i.value for i in at.info) and not at.chat_input


def test_a_second_session_waits_for_the_model_with_a_status(app):
    lock = resources._ask_lock()
    lock.acquire()
    worker = threading.Thread(target=_ask, args=(app,))
    worker.start()
    time.sleep(1.0)
    assert worker.is_alive()  # blocked on the lock, not failed
    lock.release()
    worker.join(RUN_TIMEOUT)
    assert not worker.is_alive()
    assert any(s.label.startswith("Waited") for s in app.status)
    assert "document(s) read" in _context_label(app)
