"""Experts: named vocabularies of ops. A trace is valid only inside its expert's vocabulary."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from .ops import COMPUTE_OPS, CORE_OPS, STEP_TYPES

COMPOSITION = "composition"  # the expected-expert name that matches any composed trace


@dataclass(frozen=True, slots=True)
class Expert:
    """An expert's vocabulary: the step ops it may use and, if it may compute, which compute ops.

    `init` and `query` belong to every expert; listing them is optional.
    """

    name: str
    ops: frozenset[str]
    compute_ops: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        ops = frozenset(self.ops) | CORE_OPS
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "compute_ops", frozenset(self.compute_ops))
        unknown = sorted(ops - STEP_TYPES.keys())
        if unknown:
            raise ValueError(f"expert {self.name!r}: unknown ops {unknown}")
        bad = sorted(self.compute_ops - COMPUTE_OPS.keys())
        if bad:
            raise ValueError(f"expert {self.name!r}: unknown compute ops {bad}")
        if self.compute_ops and "compute" not in ops:
            raise ValueError(f"expert {self.name!r}: compute ops given but 'compute' not allowed")

    def allows(self, op: str, compute_op: str | None = None) -> bool:
        """Whether a step `op` (a compute step: with its `compute_op`) is in this vocabulary.
        The one home of this rule: execution, static analysis and grading's early
        contamination check all ask it (through `refusal`)."""
        if op not in self.ops:
            return False
        return compute_op is None or compute_op in self.compute_ops

    def refusal(self, op: str, compute_op: str | None = None) -> str | None:
        """Why the step is outside this vocabulary (`compute_op div is not an op of expert
        percentage`), or None where `allows` it."""
        if self.allows(op, compute_op):
            return None
        what = f"compute_op {compute_op}" if compute_op is not None and op in self.ops else op
        return f"{what} is not an op of expert {self.name}"


class ExpertTable(Mapping[str, Expert]):
    """An immutable name -> Expert table. The compiler builds these from `.task` files."""

    def __init__(self, experts: Iterable[Expert]) -> None:
        table: dict[str, Expert] = {}
        for expert in experts:
            if expert.name in table:
                raise ValueError(f"expert {expert.name!r} declared twice")
            if expert.name == COMPOSITION:
                raise ValueError(f"{COMPOSITION!r} is reserved for composed traces")
            table[expert.name] = expert
        self._table = table

    def __getitem__(self, name: str) -> Expert:
        return self._table[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"ExpertTable({sorted(self._table)})"

    def overlaps(self) -> dict[tuple[str, str], frozenset[str]]:
        """Domain ops shared by two experts (the notes: vocabularies must not overlap)."""
        names = sorted(self._table)
        out = {}
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                shared = (self._table[a].ops & self._table[b].ops) - CORE_OPS - {"compute"}
                if shared:
                    out[(a, b)] = frozenset(shared)
        return out


_BASIC = frozenset({"add", "sub", "mul", "div"})

# The research notes' experts. arithmetic is the general-purpose calculator;
# the others keep narrow, non-overlapping domain vocabularies, which is what
# stopped cross-expert contamination in the notes (run 3 -> run 6).
DEFAULT_EXPERTS = ExpertTable([
    Expert("arithmetic", frozenset({"compute"}), frozenset(COMPUTE_OPS)),
    Expert("entity_track", frozenset({"compute", "consume", "transfer"}), _BASIC),
    Expert("rate_equation", frozenset({"compute"}), frozenset({"mul", "div"})),
    Expert("comparison", frozenset({"compute"}), _BASIC),
    Expert("percentage", frozenset({"percent_of", "percent_increase", "percent_off"})),
])
