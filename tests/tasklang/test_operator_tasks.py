"""The shipped exact-text datasets: tasks/operators (notes 000) and tasks/procedural (notes 004).

Compiled once at full size; checks what the notes required of them, with numbers:
unique payloads across splits and operators, payloads of at most 4 tokens under the
shipped tokenizer, the notes' train/val phrasings (held out), no colon bias, 10% German,
exact answers; and, for the procedural problems, answers recomputed by evaluators
written here independently of tasklang's generators.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from tokenizers import Tokenizer

from runtime.exact import grade_exact
from runtime.sandbox import SandboxLimits, cases_from_records, grade_code
from tasklang import api
from tasklang.record import payload_of

from .helpers import REPO, read_jsonl

OPERATORS = REPO / "tasks" / "operators"
PROCEDURAL = REPO / "tasks" / "procedural"

# The phrasings of research note 000, per operator and split.
NOTES = {
    "copy": {"train": ["Repeat exactly", "Echo", "Say back"], "val": ["Parrot", "Mirror", "Reproduce"]},
    "wrap": {"train": ["Wrap in brackets", "Enclose in []"],
             "val": ["Put in square brackets", "Add [] around"]},
    "extract": {"train": ["Return text between quotes", "Get what's in quotes"],
                "val": ["What's inside the quotes", "Output quoted content"]},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("exact_tasks")
    checked, results = api.compile_paths([str(OPERATORS), str(PROCEDURAL)], out)
    assert checked.ok and not checked.diagnostics, [d.headline() for d in checked.diagnostics]
    assert all(r.ok for r in results), [d.headline() for r in results for d in r.diagnostics]
    data: dict[str, dict[str, Any]] = {}
    for r in results:
        assert r.out_dir is not None
        manifest = json.loads((r.out_dir / "manifest.json").read_text(encoding="utf-8"))
        splits = {s: read_jsonl(r.out_dir / info["file"]) for s, info in manifest["splits"].items()}
        data[r.dataset] = {"manifest": manifest, "splits": splits}
    return data


def _tokenizer() -> Tokenizer:
    return Tokenizer.from_file(str(OPERATORS / "tokenizer.json"))


@functools.cache
def _vocab(op: str) -> list[str]:
    text = (REPO / "vocab" / f"payload_{op}.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return [str(e["text"]) for e in data["entries"]]


# ---------------------------------------------------------------- operators


def test_operator_splits_and_manifest(built: dict[str, dict[str, Any]]) -> None:
    m = built["operators"]["manifest"]
    assert {s: info["size"] for s, info in m["splits"].items()} == {"train": 9000, "val": 1000}
    assert m["splits"]["val"]["templates"] == "held-out"
    assert m["token_counting"]["exact"] is True
    assert m["settings"]["tokenizer"] == "tokenizer.json" and m["settings"]["unique_payloads"]
    for split, n in (("train", 9000), ("val", 1000)):
        assert sorted(m["counts"][split]["patterns"].values()) == sorted(
            [n // 3 + (1 if i < n % 3 else 0) for i in range(3)])


def test_every_payload_is_unique_across_splits_and_operators(built: dict[str, dict[str, Any]]) -> None:
    splits = built["operators"]["splits"]
    payloads = [payload_of(r)["w"] for recs in splits.values() for r in recs]
    assert len(payloads) == 10_000
    assert len(set(payloads)) == 10_000  # once in train, a disjoint set in val, one operator each
    train = {payload_of(r)["w"] for r in splits["train"]}
    assert not train & {payload_of(r)["w"] for r in splits["val"]}


def test_payload_vocabularies_are_disjoint_and_used_per_operator(built: dict[str, dict[str, Any]]) -> None:
    vocabs = {op: set(_vocab(op)) for op in NOTES}
    assert sum(len(v) for v in vocabs.values()) == len(set().union(*vocabs.values()))
    for recs in built["operators"]["splits"].values():
        for r in recs:
            assert payload_of(r)["w"] in vocabs[r["pattern"]]


def test_payloads_have_at_most_4_tokens_and_the_filter_bites(built: dict[str, dict[str, Any]]) -> None:
    tok = _tokenizer()
    used = [payload_of(r)["w"] for recs in built["operators"]["splits"].values() for r in recs]
    lengths = [len(e.ids) for e in tok.encode_batch(used, add_special_tokens=False)]
    assert max(lengths) <= 4
    for op in NOTES:
        entries = _vocab(op)
        n = [len(e.ids) for e in tok.encode_batch(entries, add_special_tokens=False)]
        kept = sum(1 for k in n if k <= 4)
        assert kept < len(entries)  # some entries are longer and were filtered out
        assert kept >= 2 * 3334  # the domain is twice what one operator needs (train + val)


def _phrase(question: str, phrases: list[str]) -> str | None:
    for p in sorted(phrases, key=len, reverse=True):
        if question.startswith(p):
            return p
    return None


def test_notes_phrasings_held_out_and_no_colon_bias(built: dict[str, dict[str, Any]]) -> None:
    splits = built["operators"]["splits"]
    ids = {s: {r["template_id"] for r in recs} for s, recs in splits.items()}
    assert not ids["train"] & ids["val"]
    for split, recs in splits.items():
        for op, by_split in NOTES.items():
            english = [r["prompt"][1]["content"] for r in recs
                       if r["pattern"] == op and r["language"] == "en"]
            seen = Counter(_phrase(q, by_split[split]) for q in english)
            assert None not in seen, (split, op)
            assert set(seen) == set(by_split[split])  # every phrasing of the notes, only those
            colon = sum(1 for q in english if re.match(r"[^\"]*?: ", q))
            assert 0.35 < colon / len(english) < 0.65, (split, op, colon, len(english))


def test_ten_percent_german(built: dict[str, dict[str, Any]]) -> None:
    for split, recs in built["operators"]["splits"].items():
        german = [r for r in recs if r["language"] == "de"]
        assert 0.08 < len(german) / len(recs) < 0.12, split
        assert {r["pattern"] for r in german} == set(NOTES)


def test_operator_answers_are_exact(built: dict[str, dict[str, Any]]) -> None:
    expected = {"copy": "{w}", "wrap": "[{w}]", "extract": "{w}"}
    for recs in built["operators"]["splits"].values():
        for r in recs:
            w = payload_of(r)["w"]
            assert r["answer"] == expected[r["pattern"]].format(w=w)
            assert r["completion"] == [{"role": "assistant", "content": r["answer"]}]
            assert r["expert"] is None
            if r["pattern"] == "extract":
                assert f'"{w}"' in r["prompt"][1]["content"]
            g = grade_exact(r["completion"][0]["content"], r["answer"])
            assert (g.status, g.reward) == ("correct", 1.0)


def test_shipped_payloads_and_tokenizer_are_reproducible() -> None:
    spec = importlib.util.spec_from_file_location("make_payloads", OPERATORS / "make_payloads.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0
    assert (OPERATORS / "tokenizer.json").stat().st_size < 500_000


# ---------------------------------------------------------------- procedural


def _rpn(text: str) -> int:
    stack: list[int] = []
    for t in text.split():
        if t in "+-*":
            b, a = stack.pop(), stack.pop()
            stack.append(a + b if t == "+" else a - b if t == "-" else a * b)
        else:
            stack.append(int(t))
    (value,) = stack
    return value


def _balanced(text: str) -> bool:
    stack: list[str] = []
    for ch in text:
        if ch in "([{":
            stack.append({"(": ")", "[": "]", "{": "}"}[ch])
        elif not stack or stack.pop() != ch:
            return False
    return not stack


def _arithmetic(text: str) -> int:
    """Recursive descent over + - * and parentheses (precedence and left associativity)."""
    tokens = re.findall(r"\d+|[-+*()]", text)
    pos = 0

    def atom() -> int:
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            value = expr()
            pos += 1  # ")"
            return value
        return int(tok)

    def term() -> int:
        nonlocal pos
        value = atom()
        while pos < len(tokens) and tokens[pos] == "*":
            pos += 1
            value *= atom()
        return value

    def expr() -> int:
        nonlocal pos
        value = term()
        while pos < len(tokens) and tokens[pos] in "+-":
            op = tokens[pos]
            pos += 1
            value = value + term() if op == "+" else value - term()
        return value

    value = expr()
    assert pos == len(tokens)
    return value


def test_procedural_splits_and_difficulty_range(built: dict[str, dict[str, Any]]) -> None:
    splits = built["procedural"]["splits"]
    assert {s: len(r) for s, r in splits.items()} == {"train": 3000, "val": 300, "test": 300}
    for recs in splits.values():
        for pattern in ("arithmetic", "rpn", "brackets"):
            ds = {int(payload_of(r)["d"]) for r in recs if r["pattern"] == pattern}
            assert ds == {3, 4, 5, 6, 7}
    questions = [r["prompt"][1]["content"] for recs in splits.values() for r in recs]
    assert len(set(questions)) == len(questions)


def test_procedural_answers_match_independent_evaluators(built: dict[str, dict[str, Any]]) -> None:
    check = {"arithmetic": lambda e: str(_arithmetic(e)), "rpn": lambda e: str(_rpn(e)),
             "brackets": lambda e: str(_balanced(e))}
    for recs in built["procedural"]["splits"].values():
        for r in recs:
            e = payload_of(r)["e"]
            assert e in r["prompt"][1]["content"]
            assert r["answer"] == check[r["pattern"]](e), r["id"]
            if r["pattern"] in ("arithmetic", "rpn"):
                assert len(re.findall(r"[-+*]", e.replace("(", " "))) == int(payload_of(r)["d"])
            else:
                assert len(e) == 2 * int(payload_of(r)["d"])
            assert grade_exact(r["completion"][0]["content"], r["answer"]).correct
    brackets = [r["answer"] for recs in built["procedural"]["splits"].values() for r in recs
                if r["pattern"] == "brackets"]
    assert 0.35 < brackets.count("True") / len(brackets) < 0.65


def test_rpn_records_as_code_test_cases(built: dict[str, dict[str, Any]]) -> None:
    """The code-answer variant: one evaluate_rpn, run in the sandbox on every val RPN record."""
    val = [r for r in built["procedural"]["splits"]["val"] if r["pattern"] == "rpn"]
    cases = cases_from_records(val)
    solution = ("def evaluate_rpn(expression: str) -> int:\n    stack = []\n"
                "    for t in expression.split():\n        if t in '+-*':\n"
                "            b, a = stack.pop(), stack.pop()\n"
                "            stack.append(a + b if t == '+' else a - b if t == '-' else a * b)\n"
                "        else:\n            stack.append(int(t))\n    return stack[0]\n")
    limits = SandboxLimits(case_timeout_s=1.0, timeout_s=20.0)
    assert grade_code(solution, "evaluate_rpn", cases, limits=limits).reward == 1.0
    wrong = solution.replace("a - b", "b - a")
    assert grade_code(wrong, "evaluate_rpn", cases, limits=limits).reward == 0.0


def test_procedural_task_is_readable_without_the_tool() -> None:
    text = (PROCEDURAL / "procedural.task").read_text(encoding="utf-8")
    assert "generate rpn(difficulty = d)" in text and "let d = int 3..7" in text
    assert Path(OPERATORS / "operators.task").read_text(encoding="utf-8").count("held_out") == 1
