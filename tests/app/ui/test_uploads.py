"""Upload checks: the type allow-list, the size limit, safe file names, atomic saves."""

from app.ui import uploads
from app.ui_config import supported_extensions

ALLOWED = supported_extensions()


def test_every_reader_format_is_allowed_and_office_formats_are_not():
    for ext in (".md", ".txt", ".pdf", ".docx", ".html", ".csv", ".json", ".ndjson", ".xml", ".py"):
        assert ext in ALLOWED
    for ext in (".doc", ".xlsx", ".exe", ".zip"):
        assert ext not in ALLOWED


def test_refusals_say_why():
    assert uploads.check("a.md", 10, ALLOWED, 100) is None
    assert "unsupported file type .exe" in uploads.check("a.exe", 10, ALLOWED, 100)
    assert "(no extension)" in uploads.check("README", 10, ALLOWED, 100)
    assert "upload limit" in uploads.check("a.md", 101, ALLOWED, 100)
    assert "empty" in uploads.check("a.md", 0, ALLOWED, 100)


def test_names_are_reduced_to_a_safe_file_name():
    assert uploads.safe_filename("../../etc/passwd.md") == "passwd.md"
    assert uploads.safe_filename("C:\\notes\\my note [v2].md") == "my_note__v2_.md"
    assert uploads.safe_filename(".hidden.md") == "hidden.md"
    assert uploads.safe_filename("") == "upload"


def test_save_writes_accepted_files_and_lists_the_rest(tmp_path):
    folder = uploads.upload_dir(tmp_path, "clinic")
    saved, rejected = uploads.save([("a b.md", b"# A\n"), ("x.exe", b"MZ"), ("big.md", b"x" * 50)], folder,
                                   ALLOWED, 20)
    assert [p.name for p in saved] == ["a_b.md"] and saved[0].read_bytes() == b"# A\n"
    assert [r.name for r in rejected] == ["x.exe", "big.md"]
    assert sorted(p.name for p in folder.iterdir()) == ["a_b.md"]  # no temp files left behind
    assert folder == tmp_path / ".uploads" / "clinic"
