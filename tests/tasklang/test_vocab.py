"""vocab: typed word lists with declared inflections; malformed files are refused with the entry named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasklang.resources import vocab_dir
from tasklang.vocab import Entry, VocabError, find_vocab, load_vocab


def vocab_file(tmp_path: Path, text: str, name: str = "v.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_vocabularies_load() -> None:
    for path in sorted(vocab_dir().glob("*.yaml")):
        vocab = load_vocab(path.stem, path)
        assert vocab.entries and vocab.fields
        assert all(len(e.fields) == len(vocab.fields) for e in vocab.entries)


def test_items_declare_their_plurals() -> None:
    items = load_vocab("items", vocab_dir() / "items.yaml")
    assert set(items.fields) == {"singular", "plural"}
    knife = next(e for e in items.entries if e.get("singular") == "knife")
    assert knife.get("plural") == "knives" and str(knife) == "knives"  # renders its first field


def test_entry() -> None:
    e = Entry("people", (("name", "Janet"), ("subj", "she")))
    assert str(e) == "Janet" and e.get("subj") == "she" and e.get("age") is None


def test_numbers_become_text(tmp_path: Path) -> None:
    v = load_vocab("v", vocab_file(tmp_path, "fields: [name, size]\nentries:\n"
                                             "  - {name: box, size: 3}\n"))
    assert v.entries[0].get("size") == "3"
    assert v.type == "v"  # type defaults to the vocab's name


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n- b\n", "expected a mapping"),
    ("entries: [{a: 1}]\n", "'fields' must be a non-empty list"),
    ("fields: []\nentries: [{a: 1}]\n", "'fields' must be a non-empty list"),
    ("fields: [a]\nentries: []\n", "'entries' must be a non-empty list"),
    ("fields: [a]\nentries: [x]\n", "entry 1 must be a mapping"),
    ("fields: [a, b]\nentries: [{a: x}]\n", "lacks ['b']"),
    ("fields: [a]\nentries: [{a: x, b: y}]\n", "undeclared fields ['b']"),
    ("fields: [a]\nentries: [{a: ''}]\n", "must be non-empty text"),
    ("fields: [a]\nentries: [{a: true}]\n", "must be non-empty text"),
    ("fields: [a]\nentries: [{a: x}, {a: x}]\n", "duplicate entries ['x']"),
    ("fields: [a\n", "cannot read vocabulary"),
])
def test_malformed_vocabularies(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(VocabError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_vocab("v", vocab_file(tmp_path, text))


def test_find_vocab_lookup_order(tmp_path: Path) -> None:
    (tmp_path / "vocab").mkdir()
    vocab_file(tmp_path / "vocab", "fields: [a]\nentries: [{a: x}]\n", "mine.yaml")
    assert find_vocab("mine", tmp_path) == tmp_path / "vocab" / "mine.yaml"
    vocab_file(tmp_path, "fields: [a]\nentries: [{a: y}]\n", "mine.yaml")
    assert find_vocab("mine", tmp_path) == tmp_path / "mine.yaml"  # beside the file first
    assert find_vocab("mine.yaml", tmp_path) == tmp_path / "mine.yaml"
    assert find_vocab("people", tmp_path) == vocab_dir() / "people.yaml"  # then the default
    assert find_vocab("nothing_like_this", tmp_path) is None
