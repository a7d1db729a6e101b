"""UI test fixtures: a collection built once by the real pipeline (the tiny checkpoint's tokenizer, the
real embedder) and, per test, a private copy of the data directory plus the environment the app reads.

The ``checkpoint`` and ``embedder`` fixtures come from tests/app/conftest.py.
"""

import shutil
from pathlib import Path

import pytest

from tests.app.conftest import PATIENTS, REFERENCE, write_corpus

REPO = Path(__file__).resolve().parents[3]
MAIN = str(REPO / "app" / "ui" / "main.py")
COLLECTION = "clinic"
RUN_TIMEOUT = 120  # seconds for one AppTest run that asks the model (CI machines are shared and slow)


@pytest.fixture(scope="session")
def built_data(tmp_path_factory, embedder, checkpoint):
    """A data dir with one collection, built once; tests copy it (``ui_data``) before changing it."""
    from ingest.pipeline import add

    root = tmp_path_factory.mktemp("ui-data")
    corpus = write_corpus(root / "corpus")
    report = add(root / "collections", COLLECTION, [corpus], embedder=embedder, tokenizer=str(checkpoint))
    assert report.ok and len(report.added) == len(PATIENTS) + len(REFERENCE)
    return root / "collections"


@pytest.fixture
def ui_data(built_data, tmp_path):
    data_dir = tmp_path / "collections"
    shutil.copytree(built_data, data_dir, ignore=shutil.ignore_patterns("write.lock"))
    return data_dir


@pytest.fixture
def ui_env(monkeypatch, ui_data, checkpoint, tmp_path):
    """The environment the app reads: this test's data dir, the tiny checkpoint, no stray config file."""
    for name in ("DOCQA_SERVER_URL", "DOCQA_API_KEY", "DOCQA_BUDGET", "DOCQA_EMBED_MODEL", "DOCQA_UI_CONFIG",
                 "DOCQA_UI_MAX_UPLOAD_MB", "DOCQA_DEVICE", "DOCQA_DTYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCQA_DATA_DIR", str(ui_data))
    monkeypatch.setenv("DOCQA_MODEL", str(checkpoint))
    monkeypatch.setenv("DOCQA_TOKENIZER", str(checkpoint))
    monkeypatch.chdir(tmp_path)  # no docqa.toml here: the environment alone configures the app
    return ui_data


@pytest.fixture
def app(ui_env):
    """The real entry point under Streamlit's AppTest, first run done (the Ask page)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at
