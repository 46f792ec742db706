"""The static types of `.task` values, and what the checker knows of each let."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .diagnostics import Span


class Ty(StrEnum):
    NUMBER = "number"
    STRING = "string"
    BOOL = "bool"
    RECORD = "record"  # a vocabulary entry or a record literal (`{name: "pen", price: 3}`)
    STRUCT = "struct"  # a generated structure
    LIST = "list"  # a list of numbers (`[a, b * 2]`, `[p for p in ... if ...]`)
    UNKNOWN = "unknown"  # after an error: suppresses follow-on diagnostics


@dataclass(frozen=True, slots=True)
class VarInfo:
    name: str
    ty: Ty
    span: Span
    fields: tuple[str, ...] = ()  # for records and structures
    integer: bool = False
    numbers: frozenset[str] = frozenset()  # the fields of a record that are numbers (else text)
