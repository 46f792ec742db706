"""Coverage of a reference set: which reference problems the patterns can produce.

Each reference answer is converted to a trace (`runtime.gsm8k.convert`). A problem is
*strictly* covered when some pattern's gold traces have the same computation-graph shape
(`runtime.analysis.shape_of`: names and values ignored, commutative arguments unordered,
shared inputs kept), *loosely* covered when they use the same multiset of lowered ops
(`runtime.analysis.op_multiset`). Uncovered shapes, most frequent first, are the patterns
to write next.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime import render
from runtime.analysis import op_multiset, shape_of
from runtime.gsm8k import convert

from .importer import RefProblem

Multiset = tuple[tuple[str, int], ...]


class Covering(Protocol):
    """What coverage reads of an audited pattern (audit.PatternAudit): its name, expert and
    the shapes and op multisets its gold traces had. A protocol, so that coverage does not
    import the audit that calls it."""

    @property
    def name(self) -> str: ...
    @property
    def expert(self) -> str | None: ...
    @property
    def shapes(self) -> Counter[str]: ...
    @property
    def multisets(self) -> Counter[Multiset]: ...


@dataclass
class RefResult:
    problem: RefProblem
    ok: bool
    reason: str | None
    shape: str | None = None
    multiset: Multiset | None = None
    trace_text: str | None = None
    strict: list[str] = field(default_factory=list)  # patterns with the same shape
    loose: list[str] = field(default_factory=list)  # patterns with the same op multiset


@dataclass
class Coverage:
    path: str
    refs: list[RefResult]
    top: int

    @property
    def total(self) -> int:
        return len(self.refs)

    def fraction(self, n: int) -> float | None:
        return n / self.total if self.total else None

    @property
    def expressible(self) -> int:
        return sum(r.ok for r in self.refs)

    @property
    def covered(self) -> int:
        return sum(bool(r.strict) for r in self.refs)

    @property
    def loosely_covered(self) -> int:
        return sum(bool(r.loose) for r in self.refs)

    def reasons(self) -> Counter[str]:
        return Counter(r.reason or "?" for r in self.refs if not r.ok)

    def to_json(self, patterns: Sequence[Covering]) -> dict[str, Any]:
        """The coverage keys of the audit's JSON report."""
        shapes, count = self.uncovered_shapes()
        return {
            "reference": {"path": self.path, "problems": self.total,
                          "expressible": self.expressible, "covered": self.covered,
                          "loosely_covered": self.loosely_covered,
                          "not_expressible": dict(self.reasons().most_common())},
            "expressible_fraction": self.fraction(self.expressible),
            "coverage_fraction": self.fraction(self.covered),
            "loose_coverage_fraction": self.fraction(self.loosely_covered),
            "uncovered_shapes": shapes, "uncovered_shape_count": count,
            "coverage_by_expert": self.by_expert(patterns),
            "coverage_by_pattern": self.by_pattern(patterns),
        }

    def uncovered_shapes(self) -> tuple[list[dict[str, Any]], int]:
        """Shapes of expressible problems no pattern produces, most frequent first."""
        groups: dict[str, list[RefResult]] = {}
        for r in self.refs:
            if r.ok and not r.strict and r.shape is not None:
                groups.setdefault(r.shape, []).append(r)
        ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        out = []
        for rank, (shape, members) in enumerate(ranked[: self.top], start=1):
            first = members[0]
            out.append({
                "rank": rank, "shape": shape, "count": len(members),
                "fraction": len(members) / self.total,
                "op_multiset": mset_text(first.multiset or ()),
                "loosely_covered_by": first.loose,
                "example": {"line": first.problem.line, "question": first.problem.question,
                            "trace": first.trace_text},
            })
        return out, len(ranked)

    def by_expert(self, patterns: Sequence[Covering]) -> dict[str, dict[str, Any]]:
        experts: dict[str, list[str]] = {}
        for pa in patterns:
            if pa.expert is not None:
                experts.setdefault(pa.expert, []).append(pa.name)
        out = {}
        for expert, names in sorted(experts.items()):
            members = set(names)
            strict = sum(1 for r in self.refs if members & set(r.strict))
            loose = sum(1 for r in self.refs if members & set(r.loose))
            out[expert] = {"patterns": names, "strict": strict, "loose": loose,
                           "strict_fraction": self.fraction(strict),
                           "loose_fraction": self.fraction(loose)}
        return out

    def by_pattern(self, patterns: Sequence[Covering]) -> dict[str, dict[str, Any]]:
        out = {}
        for pa in patterns:
            strict = [r for r in self.refs if pa.name in r.strict]
            loose = sum(1 for r in self.refs if pa.name in r.loose)
            out[pa.name] = {"expert": pa.expert, "strict": len(strict), "loose": loose,
                            "example_lines": [r.problem.line for r in strict[:5]],
                            "lines": [r.problem.line for r in strict]}
        return out


def coverage(path: str, problems: list[RefProblem], patterns: Sequence[Covering],
             top: int) -> Coverage:
    shapes: dict[str, list[str]] = {}
    msets: dict[Multiset, list[str]] = {}
    for pa in patterns:
        for s in pa.shapes:
            shapes.setdefault(s, []).append(pa.name)
        for m in pa.multisets:
            msets.setdefault(m, []).append(pa.name)
    refs = []
    for problem in problems:
        conv = convert(problem.answer, problem.question)
        if not conv.ok or conv.trace is None:
            refs.append(RefResult(problem, False, conv.reason))
            continue
        shape, mset = shape_of(conv.trace), op_multiset(conv.trace)
        refs.append(RefResult(problem, True, None, shape, mset, render(conv.trace),
                              shapes.get(shape, []) if shape is not None else [],
                              msets.get(mset, [])))
    return Coverage(path, refs, top)


def mset_text(mset: Multiset) -> str:
    return " ".join(f"{op}x{n}" for op, n in mset) or "-"
