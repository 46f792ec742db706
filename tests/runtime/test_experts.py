"""runtime.experts: vocabularies, the default table of the notes, custom tables in grading."""

from __future__ import annotations

import pytest

from runtime import COMPOSITION, COMPUTE_OPS, DEFAULT_EXPERTS, Expert, ExpertTable, grade

from .helpers import single


def test_default_experts_are_the_notes_five() -> None:
    assert set(DEFAULT_EXPERTS) == {
        "arithmetic", "entity_track", "rate_equation", "comparison", "percentage"}
    assert len(DEFAULT_EXPERTS) == 5


def test_every_expert_has_init_and_query() -> None:
    for expert in DEFAULT_EXPERTS.values():
        assert {"init", "query"} <= expert.ops
    assert Expert("bare", frozenset()).ops == frozenset({"init", "query"})


def test_default_vocabularies() -> None:
    arithmetic = DEFAULT_EXPERTS["arithmetic"]
    assert arithmetic.compute_ops == frozenset(COMPUTE_OPS)  # the general calculator
    entity = DEFAULT_EXPERTS["entity_track"]
    assert {"consume", "transfer", "compute"} <= entity.ops
    assert entity.compute_ops == {"add", "sub", "mul", "div"}
    assert DEFAULT_EXPERTS["rate_equation"].compute_ops == {"mul", "div"}
    percentage = DEFAULT_EXPERTS["percentage"]
    assert {"percent_of", "percent_increase", "percent_off"} <= percentage.ops
    assert "compute" not in percentage.ops


@pytest.mark.parametrize(
    ("expert", "op", "compute_op", "allowed"),
    [
        ("arithmetic", "compute", "pow", True),
        ("arithmetic", "percent_of", None, False),  # cross-expert contamination
        ("arithmetic", "consume", None, False),
        ("entity_track", "consume", None, True),
        ("entity_track", "transfer", None, True),
        ("entity_track", "compute", "sub", True),
        ("entity_track", "compute", "pow", False),
        ("entity_track", "percent_increase", None, False),  # the notes' house example
        ("rate_equation", "compute", "mul", True),
        ("rate_equation", "compute", "add", False),
        ("percentage", "percent_off", None, True),
        ("percentage", "compute", "mul", False),
        ("comparison", "compute", "div", True),
        ("comparison", "init", None, True),
        ("comparison", "query", None, True),
    ],
)
def test_allows(expert: str, op: str, compute_op: str | None, allowed: bool) -> None:
    assert DEFAULT_EXPERTS[expert].allows(op, compute_op) is allowed


def test_default_domain_vocabularies_do_not_overlap() -> None:
    # the notes: overlapping vocabularies were what let contamination happen
    assert DEFAULT_EXPERTS.overlaps() == {}


def test_overlaps_reports_shared_domain_ops() -> None:
    table = ExpertTable([
        Expert("kitchen", frozenset({"consume", "compute"}), frozenset({"add"})),
        Expert("pantry", frozenset({"consume", "transfer", "compute"}), frozenset({"sub"})),
        Expert("shop", frozenset({"percent_off", "transfer"})),
    ])
    assert table.overlaps() == {
        ("kitchen", "pantry"): frozenset({"consume"}),
        ("pantry", "shop"): frozenset({"transfer"}),
    }


@pytest.mark.parametrize(
    "make",
    [
        lambda: Expert("x", frozenset({"teleport"})),
        lambda: Expert("x", frozenset({"compute"}), frozenset({"sqrt"})),
        lambda: Expert("x", frozenset({"consume"}), frozenset({"add"})),  # compute ops, no compute
    ],
)
def test_expert_validation(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_table_rejects_duplicates_and_the_reserved_name() -> None:
    with pytest.raises(ValueError):
        ExpertTable([Expert("a", frozenset()), Expert("a", frozenset())])
    with pytest.raises(ValueError):
        ExpertTable([Expert(COMPOSITION, frozenset())])


def test_table_is_a_read_only_mapping() -> None:
    table = ExpertTable([Expert("a", frozenset()), Expert("b", frozenset({"consume"}))])
    assert sorted(table) == ["a", "b"] and len(table) == 2
    assert table["b"].allows("consume")
    with pytest.raises(KeyError):
        table["c"]
    assert "a" in table and "c" not in table
    with pytest.raises(TypeError):
        table["c"] = Expert("c", frozenset())  # type: ignore[index]


def test_custom_table_in_grading() -> None:
    # a shop expert that takes percentages off and adds shipping
    shop = ExpertTable([Expert("shop", frozenset({"percent_off", "compute"}), frozenset({"add"}))])
    text = single(
        "shop",
        "{op: init, var: price, value: 50}",
        "{op: init, var: rate, value: 20}",
        "{op: percent_off, base: price, rate: rate, var: sale}",
        "{op: init, var: shipping, value: 4.5}",
        "{op: compute, compute_op: add, args: [sale, shipping], var: result}",
        "{op: query, var: result}",
    )
    g = grade(text, "44.50", expert="shop", experts=shop)
    assert (g.status, g.reward) == ("correct", 1.0)
    # the same text against the default table: there is no expert called shop
    assert grade(text, "44.50").status == "exec_error:unknown_expert"
    # mul is not in the shop's compute vocabulary
    g = grade(text.replace("compute_op: add", "compute_op: mul"), 225, experts=shop)
    assert g.status == "exec_error:op_not_in_expert"
