"""Overrides of a dataset's seed and split sizes (`compile --seed N --size SPLIT=N`, and the
same keywords of `tasklang.load`), applied to the checked dataset before it is built.

An override rewrites the dataset's declaration (its `seed` setting, a split's size), so
the build is the one the edited file would give, byte for byte, and the manifest records
what was overridden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from . import ast
from .diagnostics import Diagnostic, error


@dataclass(frozen=True)
class Overrides:
    seed: int | None = None
    sizes: Mapping[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.seed is not None or bool(self.sizes)

    def to_json(self) -> dict[str, Any]:
        """The manifest's `overrides`."""
        out: dict[str, Any] = {}
        if self.seed is not None:
            out["seed"] = self.seed
        if self.sizes:
            out["sizes"] = dict(self.sizes)
        return out


def parse_size(text: str) -> tuple[str, int]:
    """`SPLIT=N` -> (SPLIT, N); ValueError with the one-line reason."""
    name, sep, count = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"{text!r}: expected SPLIT=N, e.g. train=1000")
    try:
        n = int(count)
    except ValueError:
        raise ValueError(f"{text!r}: {count!r} is not a whole number") from None
    if n < 1:
        raise ValueError(f"{text!r}: a split holds at least 1 example")
    return name.strip(), n


def apply(ds: ast.Dataset, overrides: Overrides) -> ast.Dataset | Diagnostic:
    """The dataset with the overrides in place; `undefined-split` naming the dataset's splits
    when a size names a split it does not declare."""
    names = [s.name for s in ds.splits]
    unknown = [k for k in overrides.sizes if k not in names]
    if unknown:
        return error("undefined-split", f"dataset {ds.name} has no split {unknown[0]} "
                     f"(--size {unknown[0]}=...)", ds.span, help=f"its splits: {', '.join(names)}")
    splits = tuple(replace(s, size=Fraction(overrides.sizes[s.name])) if s.name in overrides.sizes
                   else s for s in ds.splits)
    settings = ds.settings
    if overrides.seed is not None:
        kept = tuple(s for s in ds.settings if s.key != "seed")
        settings = (*kept, ast.Setting("seed", Fraction(overrides.seed), ds.span))
    return replace(ds, splits=splits, settings=settings)
