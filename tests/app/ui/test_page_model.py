"""The Model page under AppTest: the backend in use, its limits, and the planner for a GPU size."""

from streamlit.testing.v1 import AppTest

from tests.app.ui.conftest import MAIN, RUN_TIMEOUT


def _model_page() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT).run()
    at.switch_page("page_model.py").run()
    assert not at.exception, at.exception
    return at


def test_the_engine_its_window_and_the_planner(ui_env, checkpoint):
    at = _model_page()
    facts = at.table[0].value["value"].to_dict()
    assert facts["Backend"] == "engine" and facts["Device"] == "cpu"
    assert facts["Checkpoint"] == str(checkpoint) and facts["Context window"] == "262,144"
    assert any("random weights" in w.value for w in at.warning)
    big = at.code[0].value
    assert "max context       262,144 tokens (limited by the model's context window" in big
    next(n for n in at.number_input if n.label == "GPU memory (GiB)").set_value(1.0).run()
    small = at.code[0].value
    assert "GPU memory        1.00 GiB" in small and small != big


def test_a_model_that_cannot_load_is_explained(ui_env, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCQA_MODEL", str(tmp_path / "missing"))
    at = _model_page()
    assert at.error and "not available" in at.error[0].value and "missing" in at.error[0].value
