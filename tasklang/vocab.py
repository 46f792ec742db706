"""Vocabularies: typed word lists from `vocab/*.yaml`, each entry with its declared inflections."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .resources import vocab_dir


@dataclass(frozen=True, slots=True)
class Entry:
    """One vocabulary entry. Rendering it bare gives its first field (`{who}` -> Janet)."""

    vocab: str
    fields: tuple[tuple[str, str], ...]
    # The fields by name (the first of a repeated name, as a scan would find): every
    # placeholder such as {who.subj} looks one up, for every example.
    by_name: dict[str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", dict(reversed(self.fields)))

    def get(self, name: str) -> str | None:
        return self.by_name.get(name)

    def __str__(self) -> str:
        return self.fields[0][1]


@dataclass(frozen=True, slots=True)
class Vocab:
    name: str
    type: str
    fields: tuple[str, ...]
    entries: tuple[Entry, ...]
    path: str


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
    out = []
    for i, raw in enumerate(entries):
        out.append(_entry(name, fields, raw, i, path))
    dupes = sorted(k for k, n in Counter(str(e) for e in out).items() if n > 1)
    if dupes:
        raise VocabError(f"{path}: duplicate entries {dupes[:5]}")
    return Vocab(name, str(vtype), tuple(fields), tuple(out), str(path))


def _entry(vocab: str, fields: list[str], raw: Any, index: int, path: Path) -> Entry:
    if not isinstance(raw, dict):
        raise VocabError(f"{path}: entry {index + 1} must be a mapping of {fields}")
    missing = [f for f in fields if f not in raw]
    extra = sorted(set(raw) - set(fields))
    if missing or extra:
        raise VocabError(f"{path}: entry {index + 1} ({raw}) "
                         + (f"lacks {missing}" if missing else f"has undeclared fields {extra}"))
    values = []
    for f in fields:
        value = raw[f]
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            raise VocabError(f"{path}: entry {index + 1} field {f!r} must be non-empty text")
        values.append((f, str(value)))
    return Entry(vocab, tuple(values))
