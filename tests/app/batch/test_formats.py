"""Output formats parse what a model writes, and say why an answer does not match."""

from app.batch.formats import OutputFormat, check_schema

SCHEMA = {"type": "object", "required": ["value", "date"],
          "properties": {"value": {"type": "string"}, "date": {"type": "string"}}}


def test_list_answers_parse_to_items():
    fmt = OutputFormat("list")
    text = ("Current medications:\n- metformin 1000 mg BID [P0001]\n* lisinopril 10 mg daily [P0001]\n"
            "2. aspirin")
    assert fmt.parse(text) == (["metformin 1000 mg BID [P0001]", "lisinopril 10 mg daily [P0001]", "aspirin"],
                               None)
    assert fmt.parse("metformin and lisinopril")[1].startswith("no list items")


def test_choices_prefer_the_leading_answer_and_refuse_ambiguity():
    fmt = OutputFormat("choices", choices=("yes", "no", "not documented"))
    assert fmt.parse("Not documented: the record has no allergy list [P0003].") == ("not documented", None)
    assert fmt.parse("**Yes**, penicillin (urticaria) [P0003]") == ("yes", None)
    assert fmt.parse("The record says no.") == ("no", None)
    assert "several choices" in fmt.parse("It says yes, then no.")[1]
    assert "none of the choices" in fmt.parse("Penicillin allergy.")[1]


def test_json_answers_are_extracted_and_validated():
    fmt = OutputFormat("json", schema=SCHEMA)
    fenced = 'Here it is:\n```json\n{"value": "7.9% [P0001]", "date": "2021-03-04"}\n```'
    assert fmt.parse(fenced) == ({"value": "7.9% [P0001]", "date": "2021-03-04"}, None)
    assert fmt.parse('{"value": "7.9%", "date": "2021-03-04"} trailing words')[1] is None
    value, why = fmt.parse('{"value": 7.9}')
    assert value is None and "'date' is a required property" in why
    assert fmt.parse("HbA1c was 7.9%")[1] == "no JSON value in the answer"


def test_schema_check_and_instructions():
    assert check_schema(SCHEMA) is None
    assert "must be an object" in check_schema(["type"])
    assert "invalid JSON schema" in check_schema({"type": "bogus"})
    assert OutputFormat().instruction() == ""
    assert '"not documented"' in OutputFormat("choices", choices=("yes", "not documented")).instruction()
