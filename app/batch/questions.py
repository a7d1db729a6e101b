"""Question files: YAML or CSV, validated up front with line-numbered errors, before any model loads.

YAML: a list of questions, or a mapping with a ``questions:`` list. CSV: a header row, then one
question a row. Fields (YAML keys, CSV columns):

    id       required, unique: the question's key in the results
    text     required (``question`` is accepted too): what is asked
    format   optional: text (default) | list | choices | json
    choices  for format choices: a YAML list, or in CSV one cell "yes | no | not documented"
    schema   for format json: a JSON schema (a YAML mapping, or JSON text in a CSV cell)

A file with problems raises ``QuestionFileError`` listing every problem with its line, so a user fixes
the whole file in one pass instead of one error per run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from app.batch.formats import KINDS, OutputFormat, check_schema

FIELDS = ("id", "text", "format", "choices", "schema")
Problem = tuple[int, str]  # (1-based line, message)


class QuestionFileError(ValueError):
    """A questions file that cannot be used; ``problems`` are (line, message) pairs."""

    def __init__(self, path: Path | str, problems: list[Problem]) -> None:
        self.path, self.problems = Path(path), problems
        lines = [f"  line {line}: {msg}" if line else f"  {msg}" for line, msg in problems]
        n = len(problems)
        super().__init__(f"{path}: {n} problem{'s' if n != 1 else ''} in the questions file:\n" +
                         "\n".join(lines))


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    format: OutputFormat = field(default_factory=OutputFormat)
    line: int = 0  # where it is defined, for messages

    @property
    def prompt(self) -> str:
        """The question as asked: its text, then the format instruction (if any)."""
        extra = self.format.instruction()
        return f"{self.text}\n\n{extra}" if extra else self.text

    def fingerprint(self) -> str:
        """Changes when the question as asked changes: a resumed run redoes such an item."""
        blob = json.dumps({"text": self.text, "format": self.format.spec()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ---- one entry, from either file kind ------------------------------------------------------------

def _choices(value: object) -> tuple[str, ...] | None:
    if isinstance(value, str):
        value = [c for c in (part.strip() for part in value.split("|")) if c]
    if isinstance(value, list) and all(isinstance(c, str | int | float) for c in value):
        return tuple(str(c).strip() for c in value if str(c).strip())
    return None


def _format(entry: dict, line_of, problems: list[Problem]) -> OutputFormat | None:
    kind = str(entry.get("format") or "").strip().lower()
    schema, choices = entry.get("schema"), entry.get("choices")
    kind = kind or ("json" if schema is not None else "choices" if choices is not None else "text")
    if kind not in KINDS:
        problems.append((line_of("format"), f"unknown format {kind!r}; use one of {', '.join(KINDS)}"))
        return None
    if kind == "json":
        why = "format json needs a schema" if schema is None else check_schema(schema)
        if why:
            problems.append((line_of("schema" if schema is not None else "format"), why))
            return None
        return OutputFormat("json", schema=schema)
    if kind == "choices":
        parsed = _choices(choices)
        if not parsed or len(parsed) < 2:
            where = line_of("choices" if choices is not None else "format")
            problems.append((where, "format choices needs at least two choices"))
            return None
        return OutputFormat("choices", choices=parsed)
    for key in ("schema", "choices"):
        if entry.get(key) is not None:
            problems.append((line_of(key), f"{key} given but the format is {kind}"))
    return OutputFormat(kind)


def _entry(entry: dict, line: int, line_of, seen: dict[str, int],
           problems: list[Problem]) -> Question | None:
    """One question from its fields; problems are appended, and None returned, when it is unusable."""
    n_before = len(problems)
    qid = entry.get("id")
    qid = "" if qid is None else str(qid).strip()
    if not qid:
        problems.append((line_of("id"), "missing id"))
    elif any(c.isspace() for c in qid):
        problems.append((line_of("id"), f"id {qid!r} contains whitespace"))
    elif qid in seen:
        problems.append((line_of("id"), f"duplicate id {qid!r} (first on line {seen[qid]})"))
    else:
        seen[qid] = line
    text = entry.get("text", entry.get("question"))
    if not isinstance(text, str) or not text.strip():
        problems.append((line_of("text"), "missing question text (field 'text')"))
    fmt = _format(entry, line_of, problems)
    if len(problems) > n_before or fmt is None:
        return None
    return Question(qid, text.strip(), fmt, line)


# ---- YAML -----------------------------------------------------------------------------------------

def _yaml_entries(text: str) -> tuple[list[tuple[dict, int, dict]], list[Problem]]:
    """(fields, line, line of each key) per entry, keeping PyYAML's node positions for messages."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:  # an empty file: parse_questions says "no questions"
            return [], []
        if isinstance(root, yaml.MappingNode):
            found = [v for k, v in root.value if getattr(k, "value", None) == "questions"]
            root = found[0] if found else None
        if not isinstance(root, yaml.SequenceNode):
            return [], [(1, "expected a list of questions, or a mapping with a 'questions:' list")]
        out, problems = [], []
        for node in root.value:
            line = node.start_mark.line + 1
            if not isinstance(node, yaml.MappingNode):
                problems.append((line, "each question must be a mapping with id and text"))
                continue
            fields, lines = {}, {}
            for k, v in node.value:
                key = str(loader.construct_object(k, deep=True))
                lines[key] = k.start_mark.line + 1
                if key not in (*FIELDS, "question"):
                    problems.append((lines[key], f"unknown field {key!r}; fields are {', '.join(FIELDS)}"))
                fields[key] = loader.construct_object(v, deep=True)
            out.append((fields, line, lines))
        return out, problems
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        return [], [(mark.line + 1 if mark else 0, f"not valid YAML: {getattr(e, 'problem', None) or e}")]
    finally:
        loader.dispose()


# ---- CSV ------------------------------------------------------------------------------------------

def _csv_entries(text: str) -> tuple[list[tuple[dict, int, dict]], list[Problem]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return [], []
    header = ["text" if h == "question" else h for h in header]
    missing = [f for f in ("id", "text") if f not in header]
    if missing:
        return [], [(1, f"the header row lacks column(s) {', '.join(missing)} (found: {', '.join(header)})")]
    out, problems, end = [], [], reader.line_num
    try:
        for row in reader:
            line, end = end + 1, reader.line_num  # a quoted cell may span lines: report the first
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                problems.append((line, f"{len(row)} cells but the header has {len(header)} columns"))
                continue
            fields = {h: cell for h, cell in zip(header, row, strict=False) if h in FIELDS and cell.strip()}
            if "schema" in fields:
                try:
                    fields["schema"] = json.loads(fields["schema"])
                except json.JSONDecodeError as e:
                    problems.append((line, f"schema is not valid JSON: {e.msg} (column {e.colno})"))
                    continue
            out.append((fields, line, {}))
    except csv.Error as e:
        problems.append((reader.line_num, f"not valid CSV: {e}"))
    return out, problems


# ---- the file -------------------------------------------------------------------------------------

def parse_questions(text: str, kind: str, path: Path | str = "<questions>") -> list[Question]:
    """Questions from file content; ``kind`` is "yaml" or "csv". Raises ``QuestionFileError``."""
    entries, problems = (_yaml_entries if kind == "yaml" else _csv_entries)(text)
    seen: dict[str, int] = {}
    questions = []
    for fields, line, lines in entries:
        q = _entry(fields, line, lambda key, lines=lines, line=line: lines.get(key, line), seen, problems)
        if q is not None:
            questions.append(q)
    if not problems and not questions:
        problems.append((0, "no questions in the file"))
    if problems:
        raise QuestionFileError(path, sorted(problems, key=lambda p: p[0]))
    return questions


def load_questions(path: Path | str) -> list[Question]:
    """Read and validate a .yaml/.yml or .csv questions file."""
    path = Path(path)
    kind = {".yaml": "yaml", ".yml": "yaml", ".csv": "csv"}.get(path.suffix.lower())
    if kind is None:
        raise QuestionFileError(path, [(0, "unknown file type; use .yaml, .yml or .csv")])
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets save CSV with a BOM
    except FileNotFoundError:
        raise QuestionFileError(path, [(0, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise QuestionFileError(path, [(0, f"cannot read the file: {e}")]) from None
    return parse_questions(text, kind, path)
