"""Source files of code repositories: one document per file, text unchanged (own code).

The text is the file exactly as committed (newlines normalised), so a cited character span maps back
to real lines; ``metadata`` carries the path, language and line count. Which files are read at all
(``.git``, vendored and generated folders, ``.gitignore``, binaries) is decided by
:mod:`ingest.readers.walk`.
"""

from __future__ import annotations

from pathlib import Path

from ingest.readers.base import (
    ReadOptions,
    decode_text,
    make_doc_id,
    read_bytes,
    relative_posix,
    require_text,
)
from ingest.types import ParsedDocument

LANGUAGES = {
    ".py": "python",
    ".pyi": "python",
    ".ipynb": "jupyter",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".scala": "scala",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".cu": "cuda",
    ".cuh": "cuda",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".swift": "swift",
    ".m": "objective-c",
    ".r": "r",
    ".jl": "julia",
    ".lua": "lua",
    ".pl": "perl",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".ps1": "powershell",
    ".sql": "sql",
    ".proto": "protobuf",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".ini": "ini",
    ".cfg": "ini",
    ".gradle": "gradle",
    ".cmake": "cmake",
    ".css": "css",
    ".scss": "scss",
    ".vue": "vue",
    ".svelte": "svelte",
    ".dart": "dart",
    ".ex": "elixir",
    ".exs": "elixir",
    ".erl": "erlang",
    ".hs": "haskell",
    ".ml": "ocaml",
    ".clj": "clojure",
    ".f90": "fortran",
    ".zig": "zig",
    ".nim": "nim",
    ".tf": "terraform",
    ".graphql": "graphql",
    ".tex": "latex",
    ".json": "json",
    ".xml": "xml",
}
FILENAMES = {
    "Makefile": "make",
    "makefile": "make",
    "Dockerfile": "dockerfile",
    "CMakeLists.txt": "cmake",
    "Jenkinsfile": "groovy",
    "Rakefile": "ruby",
    "Gemfile": "ruby",
    "BUILD": "bazel",
    "WORKSPACE": "bazel",
}


def language_of(path: Path) -> str | None:
    """The language of a source file by name or extension; None when it is not source code."""
    return FILENAMES.get(path.name) or LANGUAGES.get(path.suffix.lower())


def read_code(path: Path, root: Path, options: ReadOptions) -> list[ParsedDocument]:
    """One document per source file; the id and title are its path relative to the root."""
    language = language_of(path) or "text"
    text = decode_text(read_bytes(path, options), path, options, what=f"{language} source file")
    require_text(text, path, "the source file")
    rel = relative_posix(path, root)
    return [
        ParsedDocument(
            doc_id=make_doc_id(rel),
            title=rel,
            text=text.rstrip("\n") + "\n",
            source=rel,
            kind="code",
            metadata={"path": rel, "kind": "code", "language": language, "lines": text.count("\n") + 1},
        )
    ]
