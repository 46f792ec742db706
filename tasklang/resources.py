"""Where the grammar and the default vocabularies live: inside the wheel, or beside the source tree."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_INSTALLED = _PACKAGE / "_data"  # the wheel force-includes grammar/ and vocab/ here
_SOURCE_ROOT = _PACKAGE.parent  # an editable install or a checkout


def _data_dir(name: str) -> Path:
    installed = _INSTALLED / name
    if installed.is_dir():
        return installed
    return _SOURCE_ROOT / name


def grammar_path() -> Path:
    return _data_dir("grammar") / "tasklang.lark"


def vocab_dir() -> Path:
    """The default vocabularies (`vocab people from "people"` reads people.yaml here)."""
    return _data_dir("vocab")
