"""Walking input paths safely: which files of a folder tree are offered to the readers.

``discover(paths)`` yields ``(file, root)`` pairs in sorted path order; ``root`` is the folder the
user named (for a file argument, its parent), so document ids are paths relative to it. It skips,
silently except for the optional ``on_skip(path, reason)`` callback and a DEBUG log line:

- hidden entries (names starting with "."; this also keeps ``.git`` and ``.env`` secrets out);
- vendored and generated folders (``node_modules``, ``vendor``, ``.venv``/virtualenvs,
  ``__pycache__``, ``dist``, ``build``, ...), lock files and minified bundles;
- files matched by ``.gitignore`` files (and ``.git/info/exclude``) inside a git work tree, with git's
  rules: patterns are relative to the ignore file's folder and a later match (deeper file) wins; a
  named folder that an outer rule ignores (generated data inside a repository) is walked all the same,
  with only the ignore files from that folder down;
- binaries: known binary extensions, and files of unknown type whose first bytes are binary;
- symlinked folders already visited (symlink loops, or two links to one folder) and files already
  yielded through another link; devices, FIFOs and sockets (reading a FIFO would block forever).

Problems are not hidden: an unlistable folder, an unreadable file, a broken link or a file symlink
loop is *yielded*, so that ``read_path`` raises a ReaderError for it and the pipeline records the
failure like any other bad file. Paths named explicitly are always yielded, whatever their name.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pathspec

from ingest.readers.base import ReadOptions, looks_binary
from ingest.readers.registry import known_format

log = logging.getLogger(__name__)

SKIP_DIRS = {
    "node_modules",
    "bower_components",
    "vendor",
    "venv",
    "__pycache__",
    "dist",
    "build",
    "site-packages",
    "target",
    "_build",
    "htmlcov",
    "coverage",
}
GENERATED_FILES = {
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Cargo.lock",
    "uv.lock",
    "composer.lock",
    "Gemfile.lock",
    "Pipfile.lock",
    "go.sum",
}
GENERATED_SUFFIXES = (".min.js", ".min.css", ".map", ".pb.go", "_pb2.py")
BINARY_EXTENSIONS = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".ico",
    ".webp",
    ".heic",
    ".psd",
    ".mp3",
    ".wav",
    ".flac",
    ".ogg",
    ".mp4",
    ".mov",
    ".avi",
    ".mkv",
    ".webm",
    ".zip",
    ".gz",
    ".tgz",
    ".bz2",
    ".xz",
    ".7z",
    ".rar",
    ".tar",
    ".zst",
    ".exe",
    ".dll",
    ".so",
    ".dylib",
    ".o",
    ".a",
    ".lib",
    ".obj",
    ".class",
    ".jar",
    ".war",
    ".pyc",
    ".pyo",
    ".whl",
    ".egg",
    ".wasm",
    ".bin",
    ".dat",
    ".db",
    ".sqlite",
    ".sqlite3",
    ".npy",
    ".npz",
    ".pt",
    ".pth",
    ".ckpt",
    ".safetensors",
    ".onnx",
    ".pkl",
    ".parquet",
    ".arrow",
    ".feather",
    ".h5",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
    ".eot",
    ".dcm",
    ".faiss",
    ".index",
}

OnSkip = Callable[[Path, str], None]


class _IgnoreRules:
    """The stack of .gitignore specs that apply in one folder (outermost first)."""

    def __init__(self, specs: tuple[tuple[Path, pathspec.PathSpec], ...] = ()):
        self.specs = specs

    def with_folder(self, folder: Path) -> _IgnoreRules:
        spec = _load_spec(folder / ".gitignore")
        return _IgnoreRules(self.specs + ((folder, spec),)) if spec else self

    def ignored(self, path: Path, is_dir: bool) -> bool:
        decision = None
        for base, spec in self.specs:
            try:
                rel = path.relative_to(base).as_posix()
            except ValueError:
                continue
            result = spec.check_file(rel + "/" if is_dir else rel)
            if result.include is not None:
                decision = result.include
        return bool(decision)


def _load_spec(file: Path) -> pathspec.PathSpec | None:
    try:
        if not file.is_file():
            return None
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _repo_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return candidate
    return None


def _rules_for(root: Path) -> _IgnoreRules | None:
    """Ignore rules in effect in ``root``: every ignore file from the repository down; None outside one."""
    repo = _repo_root(root)
    if repo is None:
        return None
    exclude = _load_spec(repo / ".git" / "info" / "exclude")
    rules = _IgnoreRules(((repo, exclude),) if exclude else ()).with_folder(repo)
    folder = repo
    for part in root.relative_to(repo).parts:
        folder = folder / part
        if rules.ignored(folder, is_dir=True):
            # The user named a folder that lies inside an ignored one (say generated data under a
            # repository): naming it is the user's explicit choice, like `git add -f`, so only the
            # ignore files from here down apply.
            rules = _IgnoreRules()
        rules = rules.with_folder(folder)
    return rules


def discover(
    paths: list[Path], options: ReadOptions | None = None, on_skip: OnSkip | None = None
) -> Iterator[tuple[Path, Path]]:
    """Yield ``(file, root)`` for every file under ``paths`` that a reader should see (see module doc)."""
    skip = _reporter(on_skip)
    seen_files: set[tuple[int, int]] = set()
    for given in paths:
        given = Path(given)
        if given.is_dir():
            root = given.absolute()
            yield from _walk(root, skip, seen_files)
        else:
            _remember(given, seen_files)
            yield given.absolute(), given.absolute().parent


def _reporter(on_skip: OnSkip | None) -> OnSkip:
    def skip(path: Path, reason: str) -> None:
        log.debug("skipped %s: %s", path.name, reason)
        if on_skip is not None:
            on_skip(path, reason)

    return skip


def _remember(path: Path, seen: set[tuple[int, int]]) -> bool:
    """Record a file's identity; False if it was already yielded (through another link)."""
    try:
        st = path.stat()
    except OSError:
        return True
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return False
    seen.add(key)
    return True


def _sorted_entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def _walk(root: Path, skip: OnSkip, seen_files: set) -> Iterator[tuple[Path, Path]]:
    """Depth-first, sorted, with an explicit stack (deep trees cannot overflow recursion)."""
    root_st = root.stat()
    visited_dirs = {(root_st.st_dev, root_st.st_ino)}
    rules = _rules_for(root)
    try:
        entries = _sorted_entries(root)
    except OSError:
        yield root, root  # read_path reports the unlistable folder
        return
    stack = [(iter(entries), rules)]
    while stack:
        it, rules = stack[-1]
        entry = next(it, None)
        if entry is None:
            stack.pop()
            continue
        path = Path(entry.path)
        child = _enter_dir(entry, path, rules, visited_dirs, skip)
        if child == "file":
            if _keep_file(entry, path, rules, skip) and (_remember(path, seen_files) or _dup(path, skip)):
                yield path, root
        elif child == "unlistable":
            yield path, root
        elif child is not None:
            stack.append(child)


def _dup(path: Path, skip: OnSkip) -> bool:
    skip(path, "same file as one already read (reached through a symlink)")
    return False


def _enter_dir(entry: os.DirEntry, path: Path, rules, visited: set, skip: OnSkip):
    """ "file" for non-folders; None to skip a folder; "unlistable"; else (entries iterator, rules)."""
    try:
        is_dir = entry.is_dir(follow_symlinks=True)
    except OSError:
        is_dir = False
    if not is_dir:
        return "file"
    if entry.name.startswith("."):
        skip(path, "hidden folder")
        return None
    if entry.name in SKIP_DIRS or os.path.exists(path / "pyvenv.cfg"):
        skip(path, "vendored or generated folder")
        return None
    if rules is not None and rules.ignored(path, is_dir=True):
        skip(path, "listed in .gitignore")
        return None
    try:
        st = entry.stat(follow_symlinks=True)
    except OSError:
        return "unlistable"
    if (st.st_dev, st.st_ino) in visited:
        skip(path, "symlink loop (folder already visited)")
        return None
    visited.add((st.st_dev, st.st_ino))
    try:
        entries = _sorted_entries(path)
    except OSError:
        return "unlistable"
    nested_repo = os.path.lexists(path / ".git")  # a submodule or a folder of repositories
    child_rules = rules.with_folder(path) if rules is not None and not nested_repo else _rules_for(path)
    return iter(entries), child_rules


def _keep_file(entry: os.DirEntry, path: Path, rules, skip: OnSkip) -> bool:
    name = entry.name
    if name.startswith("."):
        skip(path, "hidden file")
        return False
    if rules is not None and rules.ignored(path, is_dir=False):
        skip(path, "listed in .gitignore")
        return False
    if name in GENERATED_FILES or name.endswith(GENERATED_SUFFIXES):
        skip(path, "generated file")
        return False
    try:
        st = entry.stat(follow_symlinks=True)
    except OSError:
        return True  # broken link or link loop: read_path says which
    if not stat.S_ISREG(st.st_mode):
        skip(path, "not a regular file (device, FIFO or socket)")
        return False
    suffix = path.suffix.lower()
    if suffix in BINARY_EXTENSIONS:
        skip(path, f"binary file type {suffix}")
        return False
    if not known_format(path) and st.st_size and _sniff_binary(path):
        skip(path, "binary content")
        return False
    return True


def _sniff_binary(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return looks_binary(f.read(8192))
    except OSError:
        return False  # unreadable: yield it so read_path reports why
