"""Output formats a question may ask for: free text, a list, one of fixed choices, or JSON with a schema.

The format adds one instruction after the question (the question comes after the documents, so the
document prefix stays the same across questions) and parses the answer afterwards. A parse failure is
not an item error: the answer is kept and ``format_error`` says what did not match, for review.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import jsonschema

KINDS = ("text", "list", "choices", "json")

_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.*\S)\s*$")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class OutputFormat:
    """``kind`` is one of ``KINDS``; ``schema`` goes with "json", ``choices`` with "choices"."""

    kind: str = "text"
    schema: dict | None = None
    choices: tuple[str, ...] = ()

    def spec(self) -> dict:
        """JSON-ready description, part of an item's fingerprint (a changed format redoes the item)."""
        out: dict = {"kind": self.kind}
        if self.schema is not None:
            out["schema"] = self.schema
        if self.choices:
            out["choices"] = list(self.choices)
        return out

    def instruction(self) -> str:
        """What is appended to the question so the model answers in this format ("" for text)."""
        if self.kind == "list":
            return ("Answer as a list: one item per line, each line starting with \"- \" and ending with "
                    "its citation [doc_id]. If there are none, answer \"- not documented\".")
        if self.kind == "choices":
            options = "; ".join(f'"{c}"' for c in self.choices)
            return f"Start the answer with exactly one of: {options}. Then give the reason with citations."
        if self.kind == "json":
            schema = json.dumps(self.schema, separators=(",", ":"), sort_keys=True)
            return ("Answer with one JSON value that matches this JSON schema, and nothing else; put "
                    f"citations [doc_id] inside string values. Schema: {schema}")
        return ""

    def parse(self, text: str) -> tuple[object, str | None]:
        """(parsed value, None) or (None, why it does not match). Text answers parse to themselves."""
        if self.kind == "list":
            return _parse_list(text)
        if self.kind == "choices":
            return _parse_choice(text, self.choices)
        if self.kind == "json":
            return _parse_json(text, self.schema or {})
        return text, None


def _parse_list(text: str) -> tuple[object, str | None]:
    items = [m.group(1) for line in text.splitlines() if (m := _BULLET.match(line))]
    return (items, None) if items else (None, "no list items (lines starting with \"- \") in the answer")


def _parse_choice(text: str, choices: tuple[str, ...]) -> tuple[object, str | None]:
    """The choice the answer starts with, else the only choice it mentions as a word."""
    head = text.strip().lstrip("\"'*`(").lower()
    # Longest first, so "not documented" wins over "no" when one is a prefix of the other.
    for choice in sorted(choices, key=len, reverse=True):
        if head.startswith(choice.lower()):
            return choice, None
    found = [c for c in choices if re.search(rf"(?<!\w){re.escape(c)}(?!\w)", text, re.IGNORECASE)]
    if len(found) == 1:
        return found[0], None
    wanted = ", ".join(choices)
    if not found:
        return None, f"the answer names none of the choices ({wanted})"
    return None, f"the answer names several choices ({', '.join(found)}), not one"


def _json_candidates(text: str) -> list[str]:
    """Fenced blocks first, then the text from its first "{" or "[" to the matching last bracket."""
    out = [m.group(1) for m in _FENCE.finditer(text)]
    for open_, close in (("{", "}"), ("[", "]")):
        a, b = text.find(open_), text.rfind(close)
        if 0 <= a < b:
            out.append(text[a:b + 1])
    return out


def _parse_json(text: str, schema: dict) -> tuple[object, str | None]:
    value, found = None, False
    for candidate in _json_candidates(text):
        try:
            value, found = json.loads(candidate), True
            break
        except json.JSONDecodeError:
            continue
    if not found:
        return None, "no JSON value in the answer"
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "the value"
        return None, f"JSON does not match the schema at {where}: {errors[0].message}"
    return value, None


def check_schema(schema: object) -> str | None:
    """Why ``schema`` is not a usable JSON schema, or None when it is."""
    if not isinstance(schema, dict):
        return "a JSON schema must be an object (a mapping)"
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        return f"invalid JSON schema: {e.message}"
    return None
