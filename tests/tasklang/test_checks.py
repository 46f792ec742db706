"""checks: semantic checks beyond the broken-file corpus (what must NOT be reported, and
the information checks hand to the compiler)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasklang import api

from .helpers import GOLDEN, SHIPPED, check_text, codes, error_codes, write

# ---------------------------------------------------------------- clean inputs


def test_shipped_tasks_check_clean(checked_library: api.Checked) -> None:
    """No diagnostics; the one warning the library accepts on purpose (arithmetic chains of
    different lengths) is acknowledged with `# allow: step-count-mismatch` on its dataset."""
    checked = checked_library
    assert checked.ok
    assert not checked.diagnostics, [d.headline() for d in checked.diagnostics]
    assert checked.allowed == 1
    assert len(checked.program.sources) == len(SHIPPED)


def test_golden_inputs_check_clean() -> None:
    checked = api.check([str(GOLDEN)])
    assert not checked.diagnostics, [d.headline() for d in checked.diagnostics]


def test_pattern_infos(checked_library: api.Checked) -> None:
    result = checked_library.result
    assert result is not None
    info = result.patterns["percent_increase_then_profit"]
    assert info.experts == ("percentage", "arithmetic")
    assert info.query_targets == ("result", "result")
    assert info.step_counts == (4, 6)
    assert info.ok
    assert result.patterns["consume_then_sell"].step_counts == (8,)


# ---------------------------------------------------------------- uses that count as uses


def test_lets_used_only_by_requires_counts_and_picks_are_used(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        vocab people from "people"
        vocab items from "items"
        pattern p {
            let a = pick people
            let b = pick people distinct from a
            let thing = pick items
            let n = int 1..9
            let limit = int 3..5
            require n < limit
            template "{b} has {n} {thing@n}"
            answer "{b}"
        }
        """)
    assert not checked.diagnostics, [d.headline() for d in checked.diagnostics]


def test_answer_may_be_constrained(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        pattern p {
            let a = int 1..9
            let b = int 1..9
            require answer > 0 and is_int(answer)
            template "{a} {b}"
            trace arithmetic {
                init a
                init b
                result = sub(a, b)
                query result
            }
        }
        """)
    assert not checked.diagnostics


def test_answer_of_a_text_pattern_is_text(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        pattern p {
            let a = int 1..9
            require answer > 3
            template "{a}"
            answer "[{a}]"
        }
        """)
    assert error_codes(checked.diagnostics) == ["type-error"]


def test_generated_structure_fields_are_typed(tmp_path: Path) -> None:
    """`value` and `operators` are numbers: they take number formats and comparisons."""
    checked = check_text(tmp_path, """
        pattern p {
            let e = generate rpn(difficulty = 3)
            require e.operators >= 2 and e.value > 0
            template "{e} uses {e.operators:words} operators"
            answer "{e.answer}"
        }
        """)
    assert not checked.diagnostics, [d.headline() for d in checked.diagnostics]


def test_templated_trace_names_use_their_lets(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        vocab people from "people"
        pattern p {
            let who = pick people
            let n = int 2..9
            template "{who} has {n} eggs."
            trace entity_track {
                init {who}.eggs = n
                init two = 2
                result = mul({who}.eggs, two)
                query result
            }
        }
        """)
    assert not checked.diagnostics, [d.headline() for d in checked.diagnostics]


def test_in_place_op_makes_the_entity_queryable(tmp_path: Path) -> None:
    """consume changes its entity: querying it afterwards is not a short circuit."""
    checked = check_text(tmp_path, """
        pattern p {
            let a = int 10..20
            let b = int 1..9
            template "{a} minus {b}"
            trace entity_track {
                init a
                init b
                consume(a, b)
                query a
            }
        }
        """)
    assert not checked.diagnostics, [d.headline() for d in checked.diagnostics]


# ---------------------------------------------------------------- experts


def test_declared_expert_overrides_a_default(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        expert arithmetic: compute(add)
        pattern p {
            let a = int 1..9
            template "{a}"
            trace arithmetic {
                init a
                result = mul(a, a)
                query result
            }
        }
        """)
    assert error_codes(checked.diagnostics) == ["op-not-in-expert"]


def test_expert_named_composition_is_refused_not_a_crash(tmp_path: Path) -> None:
    checked = check_text(tmp_path, "expert composition: compute(add)\n")
    assert codes(checked.diagnostics) == ["reserved-name"]


def test_op_overlap_only_for_experts_the_dataset_uses(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        expert one: percent_of
        expert two: percent_of
        pattern a {
            let x = int 1..9
            template "{x}"
            trace one {
                init x
                result = percent_of(x, x)
                query result
            }
        }
        pattern b {
            let x = int 1..9
            template "{x}"
            answer "{x}"
        }
        dataset only_b {
            patterns b
            split train 20
            min_template_repeats 1
        }
        """)
    assert "op-overlap" not in codes(checked.diagnostics)


# ---------------------------------------------------------------- datasets


def test_pattern_listed_twice_is_one_error_not_duplicated_diagnostics(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        pattern p {
            let x = int 1..99
            template "{x}"
            answer "{x}"
        }
        dataset d {
            patterns p, p
            split train 20
            split val 10 held_out
            min_template_repeats 1
        }
        """)
    assert codes(checked.diagnostics) == ["duplicate-name", "split-leak"]


@pytest.mark.parametrize(("repeats", "warned"), [(None, True), (5, False)])
def test_min_template_repeats(tmp_path: Path, repeats: int | None, warned: bool) -> None:
    setting = "" if repeats is None else f"min_template_repeats {repeats}"
    checked = check_text(tmp_path, f"""
        pattern p {{
            let x = int 1..99
            template "{{x}}"
            template "again {{x}}"
            answer "{{x}}"
        }}
        dataset d {{
            patterns p
            split train 12
            {setting}
        }}
        """)
    assert ("few-template-repeats" in codes(checked.diagnostics)) is warned


def test_tokenizer_file_beside_the_task_file(tmp_path: Path) -> None:
    (tmp_path / "tok.json").write_text("{}", encoding="utf-8")
    checked = check_text(tmp_path, """
        pattern p {
            let x = int 1..99
            template "{x}"
            answer "{x}"
        }
        dataset d {
            patterns p
            split train 20
            tokenizer "tok.json"
            min_template_repeats 1
        }
        """)
    assert not checked.diagnostics


def test_held_out_with_language_templates(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        pattern p {
            let x = int 1..99
            template for train "Repeat {x}"
            template for val "Parrot {x}"
            template for train lang de "Wiederhole {x}"
            template lang de "Sag {x}"
            answer "{x}"
        }
        dataset d {
            patterns p
            split train 20
            split val 10 held_out
            language de 0.1
            min_template_repeats 1
        }
        """)
    assert codes(checked.diagnostics) == ["split-leak"]
    (leak,) = checked.diagnostics
    assert leak.span.line == 6


def test_every_template_must_show_the_inited_values(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        pattern p {
            let a = int 1..9
            let b = int 1..9
            template "{a} and {b}"
            template lang de "{a} und {b}"
            template for val "only {a}"
            trace arithmetic {
                init a
                init b
                result = add(a, b)
                query result
            }
        }
        """)
    (d,) = checked.diagnostics
    assert (d.code, d.span.line) == ("init-not-in-question", 6)
    assert "inits b" in d.message


def test_check_collects_diagnostics_of_every_file(tmp_path: Path) -> None:
    a = write(tmp_path, "pattern a { let x = int 1.. }\n", "a.task")
    b = write(tmp_path, 'pattern b { let x = int 1..zz template "{x}" answer "{x}" }\n', "b.task")
    checked = api.check([str(a), str(b)])
    assert sorted((Path(d.span.file).name, d.code) for d in checked.diagnostics) == [
        ("a.task", "syntax"), ("b.task", "undefined-name")]


def test_a_yaml_word_as_a_trace_name_says_why(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        pattern p {
            let yes = int 1..9
            template "{yes}"
            trace arithmetic {
                init yes
                result = add(yes, yes)
                query result
            }
        }
        """)
    messages = [d.message for d in checked.diagnostics if d.code == "bad-step"]
    assert len(messages) == 2
    assert all("yes cannot be a name: YAML reads" in m for m in messages)


MIXED_STEPS = """
    pattern short {
        let a = int 1..9
        template "{a} and {a}?"
        trace arithmetic {
            init a
            result = add(a, a)
            query result
        }
    }
    pattern long {
        let a = int 1..9
        let b = int 1..9
        template "{a}, {b} and {a}?"
        trace arithmetic {
            init a
            init b
            step1 = add(a, b)
            result = add(step1, a)
            query result
        }
    }
    """


@pytest.mark.parametrize(("comment", "kept", "allowed"), [
    ("", ["step-count-mismatch"], 0),
    ("# allow: step-count-mismatch", [], 1),
    ("# mixed on purpose; allow: few-template-repeats, step-count-mismatch", [], 1),
    ("# allow: raw-float", ["step-count-mismatch"], 0),  # another code: still reported
])
def test_allow_comments_accept_warnings_on_their_line(tmp_path: Path, comment: str,
                                                      kept: list[str], allowed: int) -> None:
    checked = check_text(tmp_path, MIXED_STEPS + f"""
    dataset d {{  {comment}
        patterns short, long
        split train 20
    }}
    """)
    assert [d.code for d in checked.diagnostics] == kept
    assert checked.allowed == allowed


def test_errors_cannot_be_allowed(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
    pattern p {
        let a = int 1..9
        template "{a}"
        trace arithmetic {
            init ghost              # allow: undefined-name
            query ghost
        }
    }
    """)
    assert "undefined-name" in error_codes(checked.diagnostics)
    assert checked.allowed == 0


# ---------------------------------------------------------------- conditional expressions


def test_conditional_types(tmp_path: Path) -> None:
    checked = check_text(tmp_path, """
        pattern p {
            let a = int 1..9
            let b = if a > 3 then a else "none"
            let c = if "yes" then 1 else 2
            let d = if a > 3 then a / 2 else 0
            require d >= 0 and c > 0
            template "{a} {b}"
            answer "{a}"
        }
    """)
    got = [(d.code, d.span.line) for d in checked.diagnostics]
    assert got == [("type-error", 3), ("type-error", 4)], [d.headline() for d in checked.diagnostics]
    assert "both branches need one type" in checked.diagnostics[0].message
