"""Extraction: raw model text -> the trace document, with bounded, safe YAML loading.

Model text is untrusted. This module finds the YAML among prose and code
fences, then loads it in one of two ways:

* a fast path that recognises exactly the canonical rendering (what trained
  models emit), line by line, with no YAML parser at all;
* otherwise an event-driven loader over PyYAML's parser (the C one when
  present). It builds plain Python data itself, so every bound (size, depth,
  node count, no anchors/aliases, no tags) is checked as events arrive and no
  object constructor ever runs.

Both paths resolve plain scalars with the same function, so the fast path is
an optimisation, never a change in meaning (a property test checks this).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Literal

import yaml

from .errors import ParseFailure, ParseReason
from .numbers import parse_decimal
from .trace import DEFAULT_LIMITS, Limits, RawTrace, shape

LoaderChoice = Literal["auto", "c", "python"]
HAS_C_LOADER = bool(getattr(yaml, "__with_libyaml__", False))

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset(["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"])
_FALSE = frozenset(["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"])


def resolve_plain(text: str) -> Any:
    """Meaning of an unquoted YAML scalar: null, bool, exact number, or string.

    Numbers are exact (`0.1` is 1/10) and decimal only: `010` is ten, not
    YAML 1.1's octal eight, and `1:30` is a string, not sexagesimal ninety.
    """
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text[:1] in "0123456789-+.":
        number = parse_decimal(text)
        if number is not None:
            return number
    return text


# ---------------------------------------------------------------- finding the YAML

_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*$", re.MULTILINE)
_TRACE_START = re.compile(r"^[ \t]*(?:-[ \t]+)?expert[ \t]*:", re.MULTILINE)


def _segments(text: str) -> list[str]:
    """Fenced blocks and the prose between them, in the order they appear."""
    out: list[str] = []
    pos = 0
    while True:
        open_ = _FENCE.search(text, pos)
        if open_ is None:
            out.append(text[pos:])
            return out
        out.append(text[pos : open_.start()])
        close = _FENCE.search(text, open_.end())
        end = close.start() if close else len(text)
        out.append(text[open_.end() + 1 : end])
        if close is None:
            return out
        pos = close.end()


# `- {op: ...}`, `- op: init`, anchors/aliases/tags (so the loader can refuse them), bare `-`
_STEP_ITEM = re.compile(r"-(?:[ \t]+(?:[{[&*!]|[A-Za-z_][\w.]*[ \t]*:)|[ \t]*$)")
_PART_ITEM = re.compile(r"- expert[ \t]*:")


def _continues(line: str, composed: bool) -> bool:
    """Whether a line can still belong to the trace that started above it."""
    if line[:1] in (" ", "\t") or not line.strip():
        return True
    if composed:
        return bool(_PART_ITEM.match(line))
    # A single trace: its own keys and step items only; a second `expert:` starts
    # another trace, and prose bullets (`- step 1: ...`) end this one.
    return bool(_STEP_ITEM.match(line)) or line.startswith(("trace:", "trace :"))


def _traces_in(text: str) -> list[str]:
    """Every trace-shaped region of a stretch of text, first to last."""
    regions: list[str] = []
    pos = 0
    size = len(text)
    while True:
        start = _TRACE_START.search(text, pos)
        if start is None:
            return regions
        begin = start.start()
        # Line by line from the start, never splitting the rest of the text: a reply of
        # 12,000 `expert:` lines made that quadratic (1.5 s for 100 KB).
        end = text.find("\n", begin)
        end = size if end < 0 else end
        composed = text[begin:end].lstrip().startswith("-")
        while end < size:  # text[end] is the newline ending the last kept line
            nxt = text.find("\n", end + 1)
            nxt = size if nxt < 0 else nxt
            if not _continues(text[end + 1 : nxt], composed):
                break
            end = nxt
        region = text[begin:end].rstrip()
        regions.append(region)
        pos = begin + max(1, len(region))


def candidates(text: str) -> list[str]:
    """YAML regions to try, in the order they appear: fenced blocks and traces in prose.

    A fenced block with no `expert:` line is tried whole (it may be JSON).
    """
    regions: list[str] = []
    for i, segment in enumerate(_segments(text)):
        fenced = i % 2 == 1
        found = _traces_in(segment)
        if found:
            regions += found
        elif fenced or not regions and len(text) == len(segment):
            regions.append(segment)
    return [r for r in regions if r.strip()]


# ---------------------------------------------------------------- fast path

_ATOM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|-?\d+(?:\.\d+)?")
_KEY = re.compile(r"[a-z_]+")


class _NotCanonical(Exception):
    pass


# Names and keys repeat across completions (op names, `result`, `step1`...): remember the
# ones already seen valid. Numbers are not cached. Bounded, so hostile input cannot grow it.
_SEEN_NAMES: set[str] = set()
_SEEN_KEYS: set[str] = set()
_SEEN_LIMIT = 8192


def _remember(seen: set[str], token: str) -> None:
    if len(seen) >= _SEEN_LIMIT:
        seen.clear()
    seen.add(token)


def _fast_atom(token: str) -> Any:
    if token in _SEEN_NAMES:
        return token
    if not _ATOM.fullmatch(token):
        raise _NotCanonical
    value = resolve_plain(token)
    if value is None or value is True or value is False:
        raise _NotCanonical  # a word YAML reads as a boolean: let the full loader decide
    if type(value) is str:
        _remember(_SEEN_NAMES, value)
    return value


def _fast_step(flow: str) -> dict[str, Any]:
    """`{k: v, k: [a, b]}` with plain atoms only; anything else is not canonical."""
    if not (flow.startswith("{") and flow.endswith("}")):
        raise _NotCanonical
    step: dict[str, Any] = {}
    pieces = iter(flow[1:-1].split(", "))
    for piece in pieces:
        key, sep, value = piece.partition(": ")
        if not sep or key in step:
            raise _NotCanonical
        if key not in _SEEN_KEYS:
            if not _KEY.fullmatch(key):
                raise _NotCanonical
            _remember(_SEEN_KEYS, key)
        if value.startswith("["):
            items = [value[1:]]
            while not items[-1].endswith("]"):
                items.append(next(pieces, "]]"))  # "]]" can never close cleanly
            items[-1] = items[-1][:-1]
            step[key] = [_fast_atom(a) for a in items]
        else:
            step[key] = _fast_atom(value)
    return step


def _fast_trace(lines: list[str], indent: str) -> dict[str, Any]:
    if len(lines) < 3 or not lines[0].startswith("expert: ") or lines[1] != indent + "trace:":
        raise _NotCanonical
    expert = _fast_atom(lines[0][len("expert: ") :])
    steps = []
    for line in lines[2:]:
        if not line.startswith(indent + "- {"):
            raise _NotCanonical
        steps.append(_fast_step(line[len(indent) + 2 :]))
    return {"expert": expert, "trace": steps}


def fast_load(text: str) -> Any:
    """Data of a document in exactly the canonical rendering, or None if it is not one."""
    lines = text.strip("\n").split("\n")
    try:
        if not lines[0].startswith("- expert: "):
            return _fast_trace(lines, "")
        starts = [i for i, line in enumerate(lines) if line.startswith("- expert: ")]
        parts = []
        for a, b in zip(starts, starts[1:] + [len(lines)], strict=True):
            chunk = [lines[a][2:]] + lines[a + 1 : b]
            parts.append(_fast_trace(chunk, "  "))
        return parts
    except _NotCanonical:
        return None


# ---------------------------------------------------------------- bounded loader


class _Bounded(Exception):
    def __init__(self, reason: ParseReason, message: str) -> None:
        self.failure = ParseFailure(reason, message)


def _loader_class(which: LoaderChoice) -> type:
    if which == "python" or not HAS_C_LOADER:
        if which == "c":
            raise ValueError("the C YAML loader (libyaml) is not available")
        return yaml.SafeLoader
    return yaml.CSafeLoader


def _check_node(event: Any) -> None:
    if getattr(event, "anchor", None) is not None:
        raise _Bounded(ParseReason.ALIASES, "YAML anchors are not allowed in a trace")
    if getattr(event, "tag", None) is not None:
        raise _Bounded(ParseReason.TAGS, f"YAML tags are not allowed: {str(event.tag)[:40]}")


def _compose(events: Any, limits: Limits) -> Any:
    """Build plain data from parser events with an explicit stack (no recursion)."""
    stack: list[tuple[Any, list[Any]]] = []  # (container, pending mapping key as [key] or [])
    root: Any = None
    nodes = 0

    def add(value: Any, is_key_scalar: str | None) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        container, pending = stack[-1]
        if isinstance(container, list):
            container.append(value)
        elif not pending:
            if is_key_scalar is None:
                raise _Bounded(ParseReason.YAML_ERROR, "mapping keys must be plain text")
            if is_key_scalar in container:
                raise _Bounded(ParseReason.YAML_ERROR, f"duplicate key {is_key_scalar[:40]!r}")
            pending.append(is_key_scalar)
        else:
            container[pending.pop()] = value

    for event in events:
        if isinstance(event, yaml.AliasEvent):
            raise _Bounded(ParseReason.ALIASES, "YAML aliases are not allowed in a trace")
        if isinstance(event, yaml.DocumentEndEvent):
            break  # only the first document counts
        if isinstance(event, yaml.CollectionEndEvent):
            stack.pop()
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        nodes += 1
        if nodes > limits.max_nodes:
            raise _Bounded(ParseReason.TOO_MANY_NODES, f"more than {limits.max_nodes} YAML nodes")
        _check_node(event)
        if isinstance(event, yaml.ScalarEvent):
            value = resolve_plain(event.value) if event.implicit[0] else event.value
            add(value, event.value)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= limits.max_depth:
                raise _Bounded(ParseReason.TOO_DEEP, f"nesting deeper than {limits.max_depth}")
            container: Any = [] if isinstance(event, yaml.SequenceStartEvent) else {}
            add(container, None)
            stack.append((container, []))
    return root


def bounded_load(text: str, limits: Limits = DEFAULT_LIMITS, loader: LoaderChoice = "auto") -> Any:
    """Safe, bounded YAML -> plain data (dict/list/str/Fraction/bool/None). Raises _Bounded."""
    if len(text) > limits.max_yaml_chars:
        raise _Bounded(ParseReason.TOO_LARGE, f"YAML region over {limits.max_yaml_chars} chars")
    try:
        return _compose(yaml.parse(text, Loader=_loader_class(loader)), limits)
    except _Bounded:
        raise
    except yaml.YAMLError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "invalid YAML"
        raise _Bounded(ParseReason.YAML_ERROR, first[:200]) from None
    except (ValueError, TypeError, RecursionError, MemoryError, UnicodeError) as err:
        raise _Bounded(ParseReason.YAML_ERROR, f"unreadable YAML: {type(err).__name__}") from None


_CANONICAL_DEPTH = 5  # composed list > part mapping > trace list > step mapping > args list


def _node_bound(text: str) -> int:
    """An upper bound on the YAML nodes of a canonical document, without walking it:
    keys and scalars <= 2 per colon, list items <= commas + one per line, collections
    <= 2 per line (+ the root)."""
    return 2 * text.count(":") + text.count(",") + 3 * text.count("\n") + 4


def load(text: str, limits: Limits = DEFAULT_LIMITS, loader: LoaderChoice = "auto") -> Any:
    """One YAML region -> plain data or ParseFailure. The fast path first.

    Limits mean the same on both paths: fast-path data over a bound is handed to
    the bounded loader, which reports it exactly as for any other text.
    """
    within = (len(text) <= limits.max_yaml_chars and limits.max_depth >= _CANONICAL_DEPTH
              and _node_bound(text) <= limits.max_nodes)
    data = fast_load(text) if within else None
    if data is not None:
        return data
    try:
        return bounded_load(text, limits, loader)
    except _Bounded as bounded:
        return bounded.failure


def extract(
    text: Any, limits: Limits = DEFAULT_LIMITS, loader: LoaderChoice = "auto"
) -> RawTrace | ParseFailure:
    """Model text -> the shaped trace document, or why there is none. Never raises.

    The first region that is a trace wins; a model cannot hedge by writing two.
    """
    if not isinstance(text, str):
        return ParseFailure(ParseReason.NO_YAML, f"expected text, got {type(text).__name__}")
    if not text.strip():
        return ParseFailure(ParseReason.EMPTY, "empty output")
    if len(text) > limits.max_chars:
        return ParseFailure(ParseReason.TOO_LARGE, f"output over {limits.max_chars} chars")
    first_failure: ParseFailure | None = None
    for region in candidates(text):
        data = load(region, limits, loader)
        got = data if isinstance(data, ParseFailure) else _shape_loaded(data, limits)
        if not isinstance(got, ParseFailure):
            return got
        first_failure = first_failure or got
    return first_failure or ParseFailure(ParseReason.NO_YAML, "no trace found")


def _shape_loaded(data: Any, limits: Limits) -> RawTrace | ParseFailure:
    if data is None or isinstance(data, str | bool | Fraction):
        return ParseFailure(ParseReason.NO_YAML, "no YAML mapping or list found")
    return shape(data, limits)
