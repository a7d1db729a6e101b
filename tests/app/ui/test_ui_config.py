"""The UI's configuration: defaults, then docqa.toml, then the environment; bad files say what is wrong."""

from pathlib import Path

import pytest

from app.ui_config import DEFAULT_UPLOAD_MAX_MB, ConfigError, load_ui_config

TOML = """
[settings]
data_dir = "from-file"
budget = 32000
server_url = "http://10.0.0.5:8000/v1/"

[ui]
upload_max_mb = 7
allowed_extensions = ["md", ".PDF"]
default_collection = "samples"
"""


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_ui_config({})
    assert cfg.source is None and cfg.upload_max_mb == DEFAULT_UPLOAD_MAX_MB
    assert cfg.settings.data_dir == Path("data/collections") and ".md" in cfg.allowed_extensions


def test_the_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docqa.toml").write_text(TOML)
    cfg = load_ui_config({})
    assert cfg.source == "docqa.toml" and cfg.settings.data_dir == Path("from-file")
    assert cfg.settings.budget == 32000 and cfg.settings.server_url == "http://10.0.0.5:8000/v1"
    assert cfg.upload_max_mb == 7 and cfg.allowed_extensions == (".md", ".pdf")
    assert cfg.default_collection == "samples" and cfg.upload_max_bytes == 7 * 2**20
    env = {"DOCQA_DATA_DIR": "from-env", "DOCQA_BUDGET": "", "DOCQA_UI_MAX_UPLOAD_MB": "3"}
    cfg = load_ui_config(env)
    assert cfg.settings.data_dir == Path("from-env") and cfg.settings.budget == 32000  # empty = unset
    assert cfg.upload_max_mb == 3


def test_an_explicit_config_path_must_exist(tmp_path):
    other = tmp_path / "ui.toml"
    other.write_text('[settings]\nmodel = "/models/jamba"\n')
    assert load_ui_config({"DOCQA_UI_CONFIG": str(other)}).settings.model == "/models/jamba"
    with pytest.raises(ConfigError, match="not a file"):
        load_ui_config({"DOCQA_UI_CONFIG": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize("text, words", [
    ("[settings\n", "cannot read"),
    ("[settings]\nmodle = 'x'\n", "unknown [settings] key(s) modle"),
    ("[ui]\nupload_mb = 3\n", "unknown [ui] key(s) upload_mb"),
    ("[ui]\nupload_max_mb = 0\n", "positive"),
    ("[settings]\nbudget = -5\n", "budget"),
])
def test_bad_files_say_what_is_wrong(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)")):
        load_ui_config({"DOCQA_UI_CONFIG": str(path)})


def test_a_broken_config_file_leaves_the_app_up(ui_env, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from tests.app.ui.conftest import MAIN, RUN_TIMEOUT

    (tmp_path / "docqa.toml").write_text("[settings]\nmodle = 'x'\n")
    at = AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT).run()
    assert not at.exception
    assert any("Config file ignored" in e.value and "modle" in e.value for e in at.error)
    assert at.chat_input  # the Ask page works from the environment alone
