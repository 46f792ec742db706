"""Vocabularies: typed word lists from `vocab/*.yaml`, each entry with its declared inflections."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from runtime.numbers import format_number

from .diagnostics import did_you_mean
from .resources import vocab_dir

Number = int | Fraction


@dataclass(frozen=True, slots=True)
class Entry:
    """One vocabulary entry. Rendering it bare gives its first field (`{who}` -> Janet)."""

    vocab: str
    fields: tuple[tuple[str, str], ...]  # every field as text (a number field: its number's)
    numbers: tuple[tuple[str, Number], ...] = ()  # the number fields, exact (`item.price`)
    # The fields by name (the first of a repeated name, as a scan would find): every
    # placeholder such as {who.subj} looks one up, for every example.
    by_name: dict[str, str] = field(init=False, compare=False, repr=False)
    number_of: dict[str, Number] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", dict(reversed(self.fields)))
        object.__setattr__(self, "number_of", dict(self.numbers))

    def get(self, name: str) -> str | Number | None:
        """A field's value: a number field's number (what expressions compute with), else text."""
        number = self.number_of.get(name)
        return self.by_name.get(name) if number is None else number

    def __str__(self) -> str:
        return self.fields[0][1]


@dataclass(frozen=True, slots=True)
class Record(Entry):
    """A record literal's value (`{name: "pen", price: 3}`): an entry of no vocabulary. It
    renders as its first field, like an entry; its payload text shows every field."""

    def __str__(self) -> str:
        return self.fields[0][1] if self.fields else ""  # the checker refuses `{}`

    def payload_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.fields)


def number_text(value: Number) -> str:
    """How a number field reads as text: as a number let renders (`2.5`, `1/3` as `1/3`)."""
    if type(value) is int or value.denominator == 1:
        return str(int(value))
    return format_number(value)


@dataclass(frozen=True, slots=True)
class Vocab:
    name: str
    type: str
    fields: tuple[str, ...]
    entries: tuple[Entry, ...]
    path: str
    numbers: tuple[str, ...] = ()  # `numbers: [price]`: fields read as exact numbers


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class VocabError(Exception):
    """A vocabulary file is missing or malformed; the message says which entry and why."""


def vocab_file_name(source: str) -> str:
    return source if source.endswith((".yaml", ".yml")) else source + ".yaml"


def vocab_search_dirs(near: Path) -> list[Path]:
    """Where `vocab x from "people"` looks, in order: beside the .task file first, then the
    default vocab/. (The loader skips those outside the confinement: tasklang.confine.)"""
    return [near, near / "vocab", near.parent / "vocab", vocab_dir()]


def find_vocab(source: str, near: Path) -> Path | None:
    """The first vocabulary file of that name in the search order, unconfined (for tools
    that read the shipped vocabularies; the loader resolves through tasklang.confine)."""
    name = vocab_file_name(source)
    for base in vocab_search_dirs(near):
        candidate = base / name
        if candidate.is_file():
            return candidate
    return None


def load_vocab(name: str, path: Path, raw: bytes | None = None) -> Vocab:
    """Parse the vocabulary file at `path` (its bytes `raw` when the caller has read them)."""
    try:
        text = path.read_text(encoding="utf-8") if raw is None else raw.decode("utf-8")
        # libyaml's safe loader when present: same safe constructors, ~7x faster on the
        # operator payload vocabularies (thousands of entries).
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise VocabError(f"{path}: cannot read vocabulary: {err}") from None
    if not isinstance(data, dict):
        raise VocabError(f"{path}: expected a mapping with type, fields and entries")
    fields = data.get("fields")
    entries = data.get("entries")
    vtype = data.get("type", name)
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise VocabError(f"{path}: 'fields' must be a non-empty list of names")
    if not isinstance(entries, list) or not entries:
        raise VocabError(f"{path}: 'entries' must be a non-empty list")
    numbers = _number_fields(data.get("numbers", []), fields, path)
    out = []
    for i, raw in enumerate(entries):
        out.append(_entry(name, fields, raw, i, path, numbers))
    dupes = sorted(k for k, n in Counter(str(e) for e in out).items() if n > 1)
    if dupes:
        raise VocabError(f"{path}: duplicate entries {dupes[:5]}")
    return Vocab(name, str(vtype), tuple(fields), tuple(out), str(path), numbers)


def _number_fields(raw: Any, fields: list[str], path: Path) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise VocabError(f"{path}: 'numbers' must be a list of field names")
    unknown = [f for f in raw if f not in fields]
    if unknown:
        close = did_you_mean(unknown[0], fields)
        raise VocabError(f"{path}: 'numbers' names {unknown[0]!r}, which is not in 'fields'"
                         + (f" ({close})" if close else ""))
    if fields[0] in raw:  # an entry is rendered, told apart and picked by its first field
        raise VocabError(f"{path}: the first field {fields[0]!r} is the entry's text: it "
                         "cannot be a number field")
    return tuple(raw)


def _number(value: Any) -> Number | None:
    """A YAML number or a decimal/fraction text as an exact number (a float by its decimal
    text, 2.5 as 5/2), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float | str):
        try:
            number = Fraction(str(value).strip())
        except (ValueError, ZeroDivisionError):
            return None
        return number.numerator if number.denominator == 1 else number
    return None


def _entry(vocab: str, fields: list[str], raw: Any, index: int, path: Path,
           numbers: tuple[str, ...] = ()) -> Entry:
    if not isinstance(raw, dict):
        raise VocabError(f"{path}: entry {index + 1} must be a mapping of {fields}")
    missing = [f for f in fields if f not in raw]
    extra = sorted(set(raw) - set(fields))
    if missing or extra:
        raise VocabError(f"{path}: entry {index + 1} ({raw}) "
                         + (f"lacks {missing}" if missing else f"has undeclared fields {extra}"))
    values, exact = [], []
    for f in fields:
        value = raw[f]
        if f in numbers:
            number = _number(value)
            if number is None:
                raise VocabError(f"{path}: entry {index + 1} field {f!r} must be a number "
                                 f"(it is listed in 'numbers'), got {value!r}")
            exact.append((f, number))
            values.append((f, number_text(number)))
            continue
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            raise VocabError(f"{path}: entry {index + 1} field {f!r} must be non-empty text")
        values.append((f, str(value)))
    return Entry(vocab, tuple(values), tuple(exact))
