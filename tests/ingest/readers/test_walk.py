"""discover(): which files of a tree reach the readers; code repositories as one document per file."""

import os
from pathlib import Path

from ingest.readers import ReadOptions, discover, read_path


def _tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _rel(pairs, root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p, _ in pairs]


def test_code_repository_skips_git_vendored_generated_ignored_and_binaries(tmp_path: Path):
    repo = tmp_path / "repo"
    _tree(
        repo,
        {
            ".git/HEAD": b"ref: refs/heads/main\n",
            ".gitignore": b"*.log\nsecret/\n!keep.log\n",
            ".env": b"TOKEN=x\n",
            "README.md": b"# Demo\n",
            "src/app.py": b"def main():\n    return 1\n",
            "src/app.min.js": b"var a=1;",
            "src/sub/.gitignore": b"local.txt\n",
            "src/sub/local.txt": b"ignored by the nested file\n",
            "src/sub/util.go": b"package sub\n",
            "debug.log": b"noise\n",
            "keep.log": b"kept by negation\n",
            "secret/key.txt": b"x\n",
            "node_modules/lib/index.js": b"x\n",
            "build/out.py": b"x\n",
            "venv2/pyvenv.cfg": b"home = /usr\n",
            "venv2/lib/site.py": b"x\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00",
            "blob": b"\x00\x01\x02\x03binary",
            "package-lock.json": b"{}",
            "config.json": b'{"debug": true}\n',
        },
    )
    skipped = []
    pairs = list(discover([repo], ReadOptions(), on_skip=lambda p, why: skipped.append((p.name, why))))
    assert _rel(pairs, repo) == ["README.md", "config.json", "keep.log", "src/app.py", "src/sub/util.go"]
    assert all(root == repo for _, root in pairs)
    assert ("debug.log", "listed in .gitignore") in skipped and (
        "local.txt",
        "listed in .gitignore",
    ) in skipped
    assert ("node_modules", "vendored or generated folder") in skipped
    assert ("blob", "binary content") in skipped
    docs = {d.doc_id: d for f, root in pairs for d in read_path(f, root, ReadOptions())}
    assert docs["src/app.py"].metadata["language"] == "python" and docs["src/app.py"].title == "src/app.py"
    assert docs["src/app.py"].text == "def main():\n    return 1\n"
    assert docs["config.json"].kind == "code"  # JSON that is not FHIR, inside a repository


def test_gitignore_applies_when_walking_a_subfolder_of_a_repository(tmp_path: Path):
    _tree(tmp_path, {".git/HEAD": b"x", ".gitignore": b"*.tmp\n", "docs/a.md": b"a\n", "docs/b.tmp": b"b\n"})
    assert _rel(discover([tmp_path / "docs"]), tmp_path / "docs") == ["a.md"]


def test_a_named_folder_inside_an_ignored_one_is_walked_with_its_own_rules(tmp_path: Path):
    # Generated data under a repository (data/ is ignored) that the user names explicitly.
    _tree(tmp_path, {".git/HEAD": b"x", ".gitignore": b"data/\n", "data/samples/a.md": b"a\n",
                     "data/samples/.gitignore": b"*.tmp\n", "data/samples/b.tmp": b"b\n"})
    assert _rel(discover([tmp_path / "data" / "samples"]), tmp_path / "data" / "samples") == ["a.md"]
    assert _rel(discover([tmp_path]), tmp_path) == []


def test_symlinked_folder_loops_and_duplicate_links_are_skipped(tmp_path: Path):
    _tree(tmp_path, {"notes/a.txt": b"a\n"})
    os.symlink("..", tmp_path / "notes" / "up")  # a loop back to the root
    os.symlink("a.txt", tmp_path / "notes" / "same.txt")  # the same file twice
    skipped = []
    pairs = list(discover([tmp_path], on_skip=lambda p, why: skipped.append((p.name, why))))
    assert _rel(pairs, tmp_path) == ["notes/a.txt"]
    assert ("up", "symlink loop (folder already visited)") in skipped
    assert any(name == "same.txt" and "symlink" in why for name, why in skipped)


def test_fifos_are_skipped_and_explicit_files_always_yielded(tmp_path: Path):
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / ".hidden.md").write_text("explicit\n", encoding="utf-8")
    assert list(discover([tmp_path])) == []
    [(path, root)] = list(discover([tmp_path / ".hidden.md"]))
    assert path.name == ".hidden.md" and root == tmp_path
