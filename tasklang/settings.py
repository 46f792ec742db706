"""Dataset settings: which keys a `dataset` block may set, their kinds and their defaults.

The one home of these: `checks` validates against SETTINGS, `build` reads a dataset's
values with `settings_of`, the importer writes DEFAULT_SYSTEM's prompt, and the audit judges
with the same defaults the compiler applies. The limits (`max_examples`, ...) are settings
too; their defaults live with their meaning in `tasklang.limits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from . import ast
from .limits import BY_SETTING

# key -> kind: "int" (a whole number; at least 1 except for seed), "str", or "rate" in (0, 1].
SETTINGS: dict[str, str] = {
    "seed": "int", "max_length": "int", "max_new_tokens": "int", "min_template_repeats": "int",
    "system": "str", "tokenizer": "str", "format": "str", "max_reject_rate": "rate",
    "license": "str",  # the dataset card's licence (a Hugging Face licence id)
    **{key: "int" for key in BY_SETTING},  # the limits (tasklang/limits.py)
}

SEED = 0
MAX_LENGTH = 1024  # prompt + completion tokens of one example
MAX_NEW_TOKENS = 750  # completion tokens
MAX_REJECT_RATE = Fraction(98, 100)  # share of draws a pattern's `require`s may reject
MIN_TEMPLATE_REPEATS = 10  # examples per template below which a template is too rare to learn
# `{experts}` is replaced by the dataset's experts, comma separated.
EXPERTS_SYSTEM = "You are a helpful assistant with access to the following experts: {experts}"
PLAIN_SYSTEM = "You are a helpful assistant."  # a dataset without experts (operators, code)


def default_system(experts: Sequence[str]) -> str:
    """The system prompt of a dataset that sets none."""
    return EXPERTS_SYSTEM.format(experts=", ".join(experts)) if experts else PLAIN_SYSTEM


def setting(ds: ast.Dataset, key: str) -> ast.Setting | None:
    """The dataset's `key = ...` statement, or None where it does not set it."""
    for s in ds.settings:
        if s.key == key:
            return s
    return None


def setting_value(ds: ast.Dataset, key: str, default: Any) -> Any:
    """The value the dataset gives `key`, else `default`."""
    s = setting(ds, key)
    return default if s is None else s.value


def min_template_repeats(ds: ast.Dataset) -> int:
    """The dataset's `min_template_repeats` (a value of the wrong type counts as unset:
    check reports it)."""
    value = setting_value(ds, "min_template_repeats", None)
    return int(value) if isinstance(value, Fraction) else MIN_TEMPLATE_REPEATS


@dataclass(frozen=True)
class Settings:
    """A dataset's settings with the defaults applied: what the compiler builds with."""

    seed: int
    system: str
    max_length: int
    max_new_tokens: int
    tokenizer: str | None
    max_reject_rate: Fraction
    unique: bool
    languages: tuple[tuple[str, Fraction], ...]
    license: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "system": self.system, "max_length": self.max_length,
                "max_new_tokens": self.max_new_tokens, "tokenizer": self.tokenizer,
                "max_reject_rate": float(self.max_reject_rate), "unique_payloads": self.unique,
                "languages": {lang: float(share) for lang, share in self.languages},
                "license": self.license}


def settings_of(ds: ast.Dataset, experts: Sequence[str]) -> Settings:
    """A checked dataset's settings over the defaults."""
    system = setting_value(ds, "system", None)
    system = default_system(experts) if system is None else system.replace(
        "{experts}", ", ".join(experts))
    return Settings(
        seed=int(setting_value(ds, "seed", SEED)), system=system,
        max_length=int(setting_value(ds, "max_length", MAX_LENGTH)),
        max_new_tokens=int(setting_value(ds, "max_new_tokens", MAX_NEW_TOKENS)),
        tokenizer=setting_value(ds, "tokenizer", None),
        max_reject_rate=Fraction(setting_value(ds, "max_reject_rate", MAX_REJECT_RATE)),
        unique=ds.unique_payloads,
        languages=tuple((lang.lang, lang.share) for lang in ds.languages),
        license=setting_value(ds, "license", None),
    )
