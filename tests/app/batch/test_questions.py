"""Question files: good YAML and CSV load; malformed ones fail up front with every problem's line."""

import pytest

from app.batch.questions import QuestionFileError, load_questions, parse_questions

GOOD_YAML = """\
questions:
  - id: meds
    text: What are the current medications?
    format: list
  - id: hba1c
    text: Last HbA1c and date?
    schema:
      type: object
      required: [value, date]
  - id: smoker
    text: Is the patient a smoker?
    choices: ["yes", "no", "not documented"]
  - id: 7
    question: Free text question
"""


def problems(text: str, kind: str) -> list[tuple[int, str]]:
    with pytest.raises(QuestionFileError) as info:
        parse_questions(text, kind, "q." + kind)
    return info.value.problems


def test_yaml_questions_load_with_formats_and_instructions():
    qs = parse_questions(GOOD_YAML, "yaml")
    assert [q.id for q in qs] == ["meds", "hba1c", "smoker", "7"]
    assert [q.format.kind for q in qs] == ["list", "json", "choices", "text"]
    assert [q.line for q in qs] == [2, 5, 10, 13]
    assert qs[2].format.choices == ("yes", "no", "not documented")
    assert qs[0].prompt.startswith("What are the current medications?\n\nAnswer as a list")
    assert '"required":["value","date"]' in qs[1].prompt
    assert qs[3].prompt == "Free text question"  # plain text: asked as written
    assert parse_questions("- id: a\n  text: x\n", "yaml")[0].text == "x"  # a bare list works too


def test_fingerprint_changes_with_text_or_format_only():
    def fp(text):
        return parse_questions(text, "yaml")[0].fingerprint()

    a = fp("- {id: a, text: 'Meds?'}\n")
    assert a == fp("- {id: b, text: 'Meds?'}\n")
    assert a != fp("- {id: a, text: 'Meds now?'}\n")
    assert a != fp("- {id: a, text: 'Meds?', format: list}\n")


def test_malformed_yaml_reports_every_problem_with_its_line():
    text = """\
questions:
  - id: meds
    text: Current medications?
  - id: meds
    text: Again?
  - text: No id here
  - id: fmt
    text: Bad format
    format: table
  - id: js
    text: JSON without a schema
    format: json
  - id: typo
    txt: misspelled field
  - id: ch
    text: One choice
    choices: [yes]
  - just a string
"""
    found = problems(text, "yaml")
    lines = {line for line, _ in found}
    assert {4, 6, 9, 12, 14, 17, 18} <= lines
    messages = " | ".join(m for _, m in found)
    assert "duplicate id 'meds' (first on line 2)" in messages
    assert "missing id" in messages and "unknown format 'table'" in messages
    assert "format json needs a schema" in messages and "unknown field 'txt'" in messages
    assert "at least two choices" in messages and "must be a mapping" in messages


def test_yaml_syntax_error_and_bad_schema_have_lines():
    assert problems("- id: a\n  text: [unclosed\n- id: b\n", "yaml")[0][0] == 3
    (line, msg), = problems("- id: a\n  text: x\n  schema: {type: 12}\n", "yaml")
    assert line == 3 and "invalid JSON schema" in msg
    assert "expected a list" in problems("just text\n", "yaml")[0][1]


def test_csv_questions_load_and_report_row_lines(tmp_path):
    good = tmp_path / "q.csv"
    good.write_text('\ufeffid,question,format,choices,schema,notes\n'
                    'meds,Current medications?,list,,,reviewer: ana\n'
                    'smoker,"Smoker?\nAsk twice",choices,yes | no,,\n'
                    'a1c,Last HbA1c?,json,,"{""type"": ""object""}",\n')
    qs = load_questions(good)
    assert [q.id for q in qs] == ["meds", "smoker", "a1c"]
    assert qs[1].text == "Smoker?\nAsk twice" and qs[1].format.choices == ("yes", "no")
    assert qs[2].format.schema == {"type": "object"}

    bad = ('id,text,format,schema\n'
           'a,"multi\nline",,\n'
           ',missing id,,\n'
           'b,,,\n'
           'c,bad json,json,{nope\n'
           'd,too,many,cells,here\n'
           'a,dup,,\n')
    found = dict(problems(bad, "csv"))
    assert sorted(found) == [4, 5, 6, 7, 8]
    assert "missing id" in found[4] and "missing question text" in found[5]
    assert "schema is not valid JSON" in found[6] and "5 cells" in found[7]
    assert "duplicate id 'a' (first on line 2)" in found[8]
    assert "lacks column(s) text" in problems("id,question_text\na,b\n", "csv")[0][1]


def test_file_level_errors(tmp_path):
    for name, content, words in [("q.txt", "x", "unknown file type"), ("q.yaml", "", "no questions"),
                                 ("missing.csv", None, "file not found")]:
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        with pytest.raises(QuestionFileError, match=words) as info:
            load_questions(path)
        assert str(path) in str(info.value)
