"""Settings: environment first, flags win, bad values are clear errors."""

import argparse
from pathlib import Path

import pytest

from app.settings import Settings, add_arguments


def _parse(argv):
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(argv)


def test_environment_is_read():
    env = {"DOCQA_DATA_DIR": "/d", "DOCQA_SERVER_URL": "http://h:8000/v1/", "DOCQA_API_KEY": "k",
           "DOCQA_BUDGET": "32000", "DOCQA_DEVICE": "cuda", "DOCQA_DEBUG": "1"}
    s = Settings.from_env(env)
    assert s.data_dir == Path("/d") and s.server_url == "http://h:8000/v1" and s.api_key == "k"
    assert s.budget == 32000 and s.device == "cuda" and s.resolved_dtype == "bfloat16" and s.debug


def test_flags_override_environment_and_defaults_apply():
    env = {"DOCQA_MODEL": "/ckpt", "DOCQA_BUDGET": "1000"}
    s = Settings.from_args(_parse(["--budget", "2000", "--data-dir", "x"]), env)
    assert s.budget == 2000 and s.model == "/ckpt" and s.data_dir == Path("x")
    d = Settings.from_env({})
    assert d.data_dir == Path("data/collections") and d.resolved_dtype == "float32"
    assert d.resolved_model == "data/tiny-jamba" and d.server_url is None and not d.debug


def test_bad_values_are_clear_errors():
    with pytest.raises(ValueError, match="DOCQA_BUDGET"):
        Settings.from_env({"DOCQA_BUDGET": "lots"})
    with pytest.raises(ValueError, match="positive"):
        Settings(budget=0)


def test_model_and_server_flags_are_exclusive():
    with pytest.raises(SystemExit):
        _parse(["--model", "a", "--server", "http://b"])
