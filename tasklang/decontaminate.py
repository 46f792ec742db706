"""Decontamination: refuse a dataset whose questions share an n-gram with a benchmark.

The comparison follows lm-evaluation-harness's n-gram check (lower-cased words, 13-grams by
default), with one addition: every number becomes one placeholder, so a template that copies
a benchmark problem with new numbers is caught. A benchmark's n-grams are indexed once (a set
lookup per window), so a scan costs a few microseconds per question, linear in the dataset.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, Span, error, warning

DEFAULT_NGRAM = 13  # lm-evaluation-harness's size
MIN_NGRAM, MAX_NGRAM = 4, 64  # below 4 every question shares "how many <n>"; above, nothing can
PLACEHOLDER = "<n>"  # how a number is shown; internally the token "0" (no digit survives)
SHOWN_PER_TEMPLATE = 3  # offending questions quoted per template; the rest are counted
JSONL_SUFFIXES = (".jsonl", ".ndjson")

# A number: a digit and what may follow it inside one (1,200  3.5  3/4  10:30), with an
# ordinal suffix (3rd). Currency and percent signs are punctuation and go with the rest of it.
_NUMBERS = re.compile(r"\d[\d.,:/]*(?:(?:st|nd|rd|th)\b)?")
_PUNCT = re.compile(r"[^\w\s]+|_")  # what is neither a letter, a digit nor a space
# The same for ASCII text, by table (three times faster than the regex, same result).
_ASCII_PUNCT = str.maketrans({chr(c): " " for c in range(128)
                              if not (chr(c).isalnum() or chr(c).isspace())})
_NUMBER_TOKEN = "0"
# Cardinal number words also become the placeholder ("three times as many" copied as
# "{k} times as many"). Each word counts once: "twenty-five" is two placeholders, "25" one.
_CARDINALS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
              "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty "
              "sixty seventy eighty ninety hundred thousand million billion dozen half twice")
NUMBER_WORDS = frozenset(_CARDINALS.split())
_WORD_MAP = {w: _NUMBER_TOKEN for w in NUMBER_WORDS}


def tokens(text: str) -> list[str]:
    """The normalised words of `text`: lower-cased, split at anything that is not a letter or
    a digit, every number (and number word) one placeholder token."""
    spaced = _NUMBERS.sub(" 0 ", text.lower()).translate(_ASCII_PUNCT)
    if not spaced.isascii():
        spaced = _PUNCT.sub(" ", spaced)
    words = spaced.split()
    return list(map(_WORD_MAP.get, words, words))


def shown(words: Iterable[str]) -> str:
    """Normalised words as a reader sees them: numbers as `<n>`."""
    return " ".join(PLACEHOLDER if w == _NUMBER_TOKEN else w for w in words)


def normalise(text: str) -> str:
    """The text the comparison sees, e.g. "Janet's 16 ducks" -> "janet s <n> ducks"."""
    return shown(tokens(text))


def ngrams(words: Sequence[str], n: int) -> Iterable[tuple[str, ...]]:
    """Every run of `n` consecutive words (none when there are fewer)."""
    return zip(*[words[i:] for i in range(n)], strict=False)


# ---------------------------------------------------------------- benchmark files


@dataclass(frozen=True, slots=True)
class BenchmarkSource:
    """A benchmark to check against, before it is read: a `decontaminate` statement or a
    `--decontaminate` option."""

    path: Path  # resolved, to read
    shown: str  # as written, for messages
    ngram: int
    span: Span  # the statement; a point at the file for the command line
    origin: str  # "statement" or "command line"


@dataclass(frozen=True)
class Benchmark:
    """A benchmark file read and indexed: each n-gram and the first line that has it."""

    source: BenchmarkSource
    sha256: str
    items: int
    short: int  # items with fewer than `ngram` words: they cannot be matched
    grams: dict[tuple[str, ...], int] = field(repr=False)

    def to_json(self, shown_path: str) -> dict[str, Any]:
        return {"file": shown_path, "sha256": self.sha256, "ngram": self.source.ngram,
                "origin": self.source.origin, "items": self.items, "ngrams": len(self.grams),
                "short_items": self.short}


class BenchmarkError(Exception):
    """A benchmark file that cannot be used; the message says where and why."""


def _items(src: BenchmarkSource, text: str) -> Iterable[tuple[int, str]]:
    """(line, text) of every item: a JSONL `question` or `prompt`, or a non-blank line."""
    jsonl = src.path.suffix.lower() in JSONL_SUFFIXES
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        yield number, (_jsonl_item(src, number, line) if jsonl else line)


def _jsonl_item(src: BenchmarkSource, number: int, line: str) -> str:
    where = f"{src.shown}:{number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise BenchmarkError(f"{where}: not JSON ({err.msg})") from None
    if isinstance(record, dict):
        for key in ("question", "prompt"):
            value = record.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, list):  # a chat: what the user says is the problem
                said = [m["content"] for m in value if isinstance(m, dict)
                        and m.get("role") == "user" and isinstance(m.get("content"), str)]
                if said:
                    return "\n".join(said)
    raise BenchmarkError(f'{where}: needs a "question" string or a "prompt" (a string, or a '
                         'chat list with a user message)')


def load_benchmark(src: BenchmarkSource) -> Benchmark:
    """Read and index one benchmark file. Raises BenchmarkError with a clear message."""
    try:
        data = src.path.read_bytes()
    except OSError as err:
        reason = "no such file" if not src.path.exists() else (err.strerror or str(err))
        raise BenchmarkError(f"cannot read {src.shown}: {reason}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BenchmarkError(f"cannot read {src.shown}: not UTF-8 (byte {err.start})") from None
    grams: dict[tuple[str, ...], int] = {}
    items = short = 0
    for number, item in _items(src, text):
        words = tokens(item)
        items += 1
        short += len(words) < src.ngram
        for gram in ngrams(words, src.ngram):
            grams.setdefault(gram, number)
    if items == 0:
        raise BenchmarkError(f"{src.shown} holds no items")
    return Benchmark(src, hashlib.sha256(data).hexdigest(), items, short, grams)


def load_all(sources: Iterable[BenchmarkSource]) -> tuple[list[Benchmark], list[Diagnostic]]:
    """Every benchmark that loads, and a `bad-benchmark` error for each that does not."""
    loaded, diags = [], []
    for src in sources:
        try:
            bench = load_benchmark(src)
        except BenchmarkError as err:
            diags.append(error("bad-benchmark", str(err), src.span,
                               'JSONL needs a "question" or "prompt" per line; any other file '
                               "is read as one item per line"))
            continue
        loaded.append(bench)
        if bench.short == bench.items:
            diags.append(warning("benchmark-too-short", f"every item of {src.shown} has fewer "
                                 f"than {src.ngram} words: nothing can match", src.span,
                                 "lower its `ngram`"))
    return loaded, diags


# ---------------------------------------------------------------- scanning


@dataclass(frozen=True, slots=True)
class Overlap:
    """The first n-gram a question shares with a benchmark: cheap to send from a worker."""

    words: str  # the normalised n-gram, numbers as <n>
    bench: int  # index into Index.benchmarks
    line: int  # the benchmark item's line


class Index:
    """The n-grams of every benchmark of a dataset, one table per n-gram size."""

    def __init__(self, benchmarks: Sequence[Benchmark]) -> None:
        self.benchmarks = list(benchmarks)
        tables: dict[int, dict[tuple[str, ...], tuple[int, int]]] = {}
        for b, bench in enumerate(self.benchmarks):
            table = tables.setdefault(bench.source.ngram, {})
            for gram, line in bench.grams.items():
                table.setdefault(gram, (b, line))
        self.tables = sorted(tables.items())

    def first_overlap(self, text: str) -> Overlap | None:
        """The first n-gram of `text` found in a benchmark, or None (the common case, decided
        by one set-disjointness test per n-gram size, in C)."""
        words = tokens(text)
        for n, table in self.tables:
            if table.keys().isdisjoint(ngrams(words, n)):
                continue
            for gram in ngrams(words, n):
                hit = table.get(gram)
                if hit is not None:
                    return Overlap(shown(gram), hit[0], hit[1])
        return None

    def where(self, o: Overlap) -> str:
        return f"{self.benchmarks[o.bench].source.shown}:{o.line}"


@dataclass
class _Offences:
    count: int = 0
    splits: Counter[str] = field(default_factory=Counter)
    items: set[tuple[int, int]] = field(default_factory=set)
    shown: list[str] = field(default_factory=list)


class Scan:
    """The outcome of checking one dataset: overlaps counted per template, a few quoted."""

    def __init__(self, index: Index, dataset: str) -> None:
        self.index = index
        self.dataset = dataset
        self.by_template: dict[tuple[str, str], _Offences] = {}
        self.per_bench: Counter[int] = Counter()
        self.system: Overlap | None = None

    def check_system(self, system: str) -> None:
        """The system prompt is the same in every record: checked once (a few-shot example
        in it would contaminate every record)."""
        self.system = self.index.first_overlap(system)
        if self.system is not None:
            self.per_bench[self.system.bench] += 1

    def add(self, o: Overlap, split: str, pattern: str, template_id: str, rid: str) -> None:
        off = self.by_template.setdefault((pattern, template_id), _Offences())
        off.count += 1
        off.splits[split] += 1
        off.items.add((o.bench, o.line))
        self.per_bench[o.bench] += 1
        if len(off.shown) < SHOWN_PER_TEMPLATE:
            off.shown.append(f'{rid} (split {split}) shares "{o.words}" with '
                             f"{self.index.where(o)}")

    @property
    def clean(self) -> bool:
        return not self.by_template and self.system is None

    def diagnostics(self, template_spans: dict[str, Span], system_span: Span
                    ) -> list[Diagnostic]:
        """One `benchmark-overlap` error per offending template, at the template."""
        diags = []
        if self.system is not None:
            diags.append(error("benchmark-overlap", f"dataset {self.dataset}: the system prompt "
                               f'shares "{self.system.words}" with {self.index.where(self.system)}',
                               system_span, "take benchmark problems out of the system prompt"))
        for (pattern, tid), off in self.by_template.items():
            splits = ", ".join(f"{s} {n}" for s, n in sorted(off.splits.items()))
            files = sorted({self.index.benchmarks[b].source.shown for b, _ in off.items})
            items = "item" if len(off.items) == 1 else "items"
            diags.append(error(
                "benchmark-overlap",
                f"dataset {self.dataset}, pattern {pattern}, template {tid}: {off.count} "
                f"question(s) ({splits}) share {self._sizes()}-word runs with {len(off.items)} "
                f"{items} of {', '.join(files)}", template_spans.get(tid, system_span),
                *off.shown,
                f"compared lower-cased, every number as {PLACEHOLDER}: rephrase the template, "
                "not its numbers"))
        return diags

    def _sizes(self) -> str:
        return "/".join(str(n) for n, _ in self.index.tables)

    def to_json(self, relative: Any) -> list[dict[str, Any]]:
        """The manifest's `decontamination`: each benchmark's hash, n-gram size and outcome;
        `relative` turns a path into the manifest's form (relative to the dataset's file)."""
        return [{**b.to_json(relative(b.source.path)), "overlaps": self.per_bench.get(i, 0)}
                for i, b in enumerate(self.index.benchmarks)]
