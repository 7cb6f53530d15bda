"""Benchmark rows to (question, gold), as the DRIFT authors' script reads them; the expected
values were checked against their src/benchmark.py on these rows."""

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq

from drift.evaluation.drift_paper.records import (
    last_boxed,
    letter_gold,
    read_gpqa,
    read_math,
    read_mmlu,
    read_mmlu_pro,
    read_theoremqa,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def test_last_boxed() -> None:
    assert last_boxed("\\boxed{1} then \\boxed{\\frac{a}{b}}") == "\\frac{a}{b}"
    assert last_boxed("\\fbox {x}") == "x"
    assert last_boxed("\\boxed{open") is None
    assert last_boxed("no box") is None


def test_math_rows() -> None:
    rows = _jsonl("math500.jsonl")
    assert read_math(rows[0]) == ("Compute $\\dbinom{8}{4}$.", "70")
    assert read_math(rows[1])[1] == "\\frac{14}{3}"
    assert read_math(rows[2])[1] == "2"  # empty answer field: the solution's \boxed
    assert read_math(rows[3])[0] == ""  # blank question: the suite drops the row
    assert read_math({"problem": "p", "solution": "a\n#### 12"})[1] == "12"
    assert read_math({"problem": "p", "solution": "first\nlast line\n"})[1] == "last line"
    algebra = _jsonl("hendrycks_math/algebra.jsonl")
    assert [read_math(r)[1] for r in algebra] == ["2", "x^2 + 2x + 1"]


def test_theoremqa_rows() -> None:
    rows = _jsonl("theoremqa.jsonl")
    assert [read_theoremqa(r)[1] for r in rows] == ["3.5", "True", "6"]  # a list: its first
    assert read_theoremqa(rows[2])[0].startswith("<image>\nHow many edges")  # has a Picture
    assert read_theoremqa({"Question": "q", "Answer": 2.0}) == ("q", "2.0")


def test_gpqa_rows_are_shuffled_by_the_md5_of_their_question() -> None:
    rows = list(csv.DictReader((FIXTURES / "gpqa.csv").open()))
    question, gold = read_gpqa(rows[0])
    assert question == (
        "Which particle mediates the electromagnetic force?\n"
        "A. photon\nB. graviton\nC. gluon\nD. W boson"
    )
    assert gold == "A"
    assert read_gpqa(rows[1]) == (
        "What is the SI unit of charge?\nA. ampere\nB. coulomb\nC. volt",  # empty option gone
        "B",
    )
    assert read_gpqa(rows[2])[1] == ""  # no correct answer: the suite drops the row
    row = {"question": "q?", "choices": ["x", "y", "", "z"], "answer": 3}
    assert read_gpqa(row) == ("q?\nA. z\nB. y\nC. x", "A")


def test_multiple_choice_rows() -> None:
    anatomy = _jsonl("mmlu_redux/anatomy.jsonl")
    assert read_mmlu(anatomy[0]) == (
        "Which bone is in the arm?\nA. femur\nB. humerus\nC. tibia\nD. fibula",
        "B",
    )
    pro = pq.read_table(FIXTURES / "mmlu_pro.parquet").to_pylist()
    question, gold = read_mmlu_pro(pro[0])
    assert gold == "C" and question.endswith("\nJ. xenon")
    assert letter_gold("(d)", 3) == "D" and letter_gold(2, 3) == "C" and letter_gold("7", 9) == "H"
    assert letter_gold(4, 3) == "" and letter_gold("x", 3) == "" and letter_gold(None, 3) == ""
