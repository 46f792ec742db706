"""Token budget: count prompt (chat wrapper + system + question) and target tokens with a real tokenizer.

Truncation is silent and fatal in training, so tasklang never truncates: the
compiler fails and lists the worst offenders instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from . import ast
from .confine import Confinement, LoadOptions, hub_tokenizers_available, resolve_tokenizer
from .diagnostics import Diagnostic, Span

if TYPE_CHECKING:
    from .program import Program
    from .vocab import Entry

# A ChatML-style wrapper: what a chat template adds around the messages. Used when
# the tokenizer brings no chat template of its own (a bare tokenizer.json).
_CHATML_PROMPT = "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n" \
                 "<|im_start|>assistant\n"
EOS_TOKENS = 1  # the end-of-turn token the model must learn to emit after the target


class TokenCounter(Protocol):
    description: str
    exact: bool

    def prompt_lengths(self, prompts: list[tuple[str, str]]) -> list[int]: ...
    def text_lengths(self, texts: list[str]) -> list[int]: ...


@dataclass
class ByteUpperBound:
    """No tokenizer declared: UTF-8 bytes bound the tokens of any byte-level BPE tokenizer."""

    description: str = "no tokenizer declared: checked the upper bound tokens <= UTF-8 bytes " \
                        "(ChatML wrapper included)"
    exact: bool = False

    def prompt_lengths(self, prompts: list[tuple[str, str]]) -> list[int]:
        return [len(_CHATML_PROMPT.format(system=s, user=u).encode()) for s, u in prompts]

    def text_lengths(self, texts: list[str]) -> list[int]:
        return [len(t.encode()) for t in texts]


class TokenizerJson:
    """A `tokenizer.json` through the `tokenizers` package (no torch)."""

    exact = True

    def __init__(self, path: Path, shown: str | None = None) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path))
        self.path = path
        # As written in the .task file: the manifest must not depend on where we ran from.
        self.description = f"tokenizer {shown or path.name} (prompt counted inside a ChatML wrapper)"

    def _lengths(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def prompt_lengths(self, prompts: list[tuple[str, str]]) -> list[int]:
        return self._lengths([_CHATML_PROMPT.format(system=s, user=u) for s, u in prompts])

    def text_lengths(self, texts: list[str]) -> list[int]:
        return self._lengths(texts)


class HubTokenizer:
    """Any AutoTokenizer path or hub id (needs the train extra); uses its own chat template."""

    exact = True

    def __init__(self, name: str, shown: str | None = None, local: bool = False) -> None:
        from transformers import AutoTokenizer  # type: ignore[import-not-found]

        # A local directory is read with local_files_only: nothing is fetched for it.
        self.tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local)
        self.has_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.description = f"tokenizer {shown or name}" + (
            "" if self.has_template else " (no chat template: ChatML wrapper)")

    def prompt_lengths(self, prompts: list[tuple[str, str]]) -> list[int]:
        if not self.has_template:
            return self.text_lengths([_CHATML_PROMPT.format(system=s, user=u) for s, u in prompts])
        out = []
        for system, user in prompts:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                     tokenize=True)
            out.append(len(ids))
        return out

    def text_lengths(self, texts: list[str]) -> list[int]:
        return [len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]


class TokenizerLoadError(Exception):
    pass


def make_counter(spec: str | None, base: Path, confinement: Confinement | None = None
                 ) -> TokenCounter:
    """The dataset's `tokenizer` setting -> a counter. Paths are relative to the .task file and
    confined (tasklang.confine: by default to `base`, with no network); a hub id is loaded only
    when the confinement allows the network."""
    if spec is None:
        return ByteUpperBound()
    source = resolve_tokenizer(spec, base, Span.point(str(base)),
                               confinement or Confinement.at(base, LoadOptions(allow_network=False)))
    if isinstance(source, Diagnostic):
        raise TokenizerLoadError(source.message)
    path = source.path
    if path is not None and path.is_file():
        try:
            return TokenizerJson(path, spec)
        except Exception as err:  # the tokenizers package reports many error types
            raise TokenizerLoadError(f"cannot load {spec}: {err}") from None
    if not hub_tokenizers_available():
        raise TokenizerLoadError(f"tokenizer {spec!r} needs the train extra (transformers) "
                                 "to load" + (" a model id" if path is None else " a directory"))
    try:
        return HubTokenizer(spec if path is None else str(path), spec, local=path is not None)
    except Exception as err:
        raise TokenizerLoadError(f"cannot load tokenizer {spec!r}: {err}") from None


def allowed_picks(p: ast.Pattern, program: Program, counter: TokenCounter) -> dict[str, list[Entry]]:
    """The entries each `pick ... max_tokens N` let of `p` may draw: those of at most N
    tokens under `counter` (the dataset's tokenizer). Build and audit both filter with it."""
    allowed = {}
    for let in p.lets:
        s = let.sampler
        if isinstance(s, ast.Pick) and s.max_tokens is not None and s.vocab in program.vocabs:
            entries = list(program.vocabs[s.vocab].entries)
            lengths = counter.text_lengths([str(e) for e in entries])
            allowed[let.name] = [e for e, n in zip(entries, lengths, strict=True)
                                 if n <= s.max_tokens]
    return allowed


def percentile(values: Sequence[int], q: float) -> int:
    """The nearest-rank `q` percentile of token lengths (0 for none)."""
    if not values:
        return 0
    ordered = sorted(values)
    return int(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))])


def length_stats(values: Sequence[int]) -> dict[str, int]:
    """p50, p95 and max of token lengths: the manifests' and the audit's `tokens` shape."""
    return {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
            "max": max(values, default=0)}
