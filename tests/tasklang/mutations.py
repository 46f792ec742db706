"""A seeded mutation fuzzer for .task files, shared by tests/tasklang/test_fuzz.py (a bounded
campaign of a few seconds) and bench/fuzz_tasks.py (the long campaign and its figures).

A case is a valid seed file (a shipped task or a golden input, splits shrunk to 8 examples)
with one to four mutations: byte flips, token deletions, duplications and swaps, keywords and
operators inserted, lines spliced from another seed, deep nesting of parentheses and braces,
huge numbers, long names and strings, random unicode and truncation. Case `i` of campaign
`seed` depends on nothing else, so a failure is reproduced from its two numbers
(`python bench/fuzz_tasks.py --seed S --case I --show`).

The oracle (`run_case`): `tasklang.api.check` never raises; every diagnostic names its file
and a line and column inside it; a mutant that checks clean compiles (tiny splits) without
raising and leaves no hidden staging folders. An exception escaping the API is what the CLI
reports as "internal error" (exit 3).
"""

from __future__ import annotations

import random
import re
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tasklang import api
from tasklang.diagnostics import source_lines

from .helpers import GOLDEN, SHIPPED, TASKS, shrink_splits, support_files

SEEDS: dict[str, str] = {}
for _path in SHIPPED:
    SEEDS[str(_path.relative_to(TASKS))] = shrink_splits(_path.read_text(encoding="utf-8"), 8)
for _path in sorted(GOLDEN.glob("*.task")):
    SEEDS["golden/" + _path.name] = shrink_splits(_path.read_text(encoding="utf-8"), 8)

# The seeds that check in milliseconds (measured; the in-suite campaign draws from these).
# Left out: the big GSM files and gsm/library.task (which imports them all, about 3 s a check),
# operators.task (large payload vocabularies) and demo/rate_arith.task (0.5 s).
SMALL = sorted(name for name in SEEDS if name.startswith("golden/") or name in {
    "gsm/comparison.task", "gsm/composition.task", "gsm/core.task", "gsm/entity_track.task",
    "gsm/experts.task", "gsm/percentage.task", "gsm/rate_equation.task",
    "procedural/procedural.task", "procedural/procedural_code.task"})
# Seeds whose compile runs reference solutions in the sandbox (seconds, not milliseconds).
SANDBOXED = frozenset({"procedural/procedural_code.task", "golden/code_answers.task"})

TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\{[^{}\s]*\}|[A-Za-z_]\w*|\d+(?:\.\d+)?|\.\.|\*\*|//|'
                   r"[<>=!]=|\S")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
NAME = re.compile(r"\b[A-Za-z_]\w*\b")
# Strings that name files (imports, vocabularies, references, tokenizers) are left alone by
# the size mutations: an over-long path is an operating-system condition the CLI boundary and
# path confinement own (issue 11, items 1 and 4), not a parser or checker one.
PATH_STRING = re.compile(r'\b(?:import|from|reference|tokenizer)\s+"[^"\n]*"')

KEYWORDS = ["let", "int", "decimal", "choice", "pick", "generate", "require", "template", "trace",
            "init", "query", "answer", "for", "lang", "step", "prev", "=", "..", ",", "(", ")",
            "{", "}", '"x"', '"{a}"', '"{{"', "0", "-1", "1.5", "**", "/", "//", "%", "and", "not",
            "held_out", "split", "seed", "patterns", "max_length", "1/0", "result", "distinct from",
            "max_tokens", ".", "{who}", "@", ":", "unique", "payloads", "language", "add", "div",
            "expert", "vocab", "import", "'", "\\", "#", "\n", "round(", "min(", "is_int(",
            "words", "money", "function", "tests", "reference", "dataset", "pattern", "0..0",
            "10**400", "-(", "int 5..1", "decimal 0.1..0.2 step 0", "# allow: unused-var"]
UNICODE = ["\u0000", "\u00a0", "\u0301", "\u200b", "\u200d", "\u2028", "\u202e", "\ufeff",
           "\ufffd", "\u0660", "\uff11", "\u00b2", "\u2155", "\U0001f600", "\U00010000",
           "\r", "\x0b", "\x0c", "\t", "é", "ß", "İ", "ﬁ", "\u4e00", "\u05d0"]


@dataclass(frozen=True)
class Case:
    seed: int
    index: int
    name: str  # the seed file mutated (key of SEEDS)
    ops: tuple[str, ...]
    data: bytes  # the mutant's bytes (byte flips can make it invalid UTF-8)


@dataclass(frozen=True)
class Outcome:
    case: Case
    crash: str | None  # the exception that escaped the API, with its innermost frame
    problems: tuple[str, ...]  # diagnostics without a usable file:line:col, leftovers
    checked_ok: bool
    compiled: bool
    seconds: float


# ---------------------------------------------------------------- mutations


def _spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in TOKEN.finditer(text)] or [(0, 0)]


def _protected(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in PATH_STRING.finditer(text)]


def _pick_outside(rng: random.Random, text: str, pattern: re.Pattern[str]) -> re.Match[str] | None:
    guard = _protected(text)
    found = [m for m in pattern.finditer(text)
             if not any(s <= m.start() < e for s, e in guard)]
    return rng.choice(found) if found else None


def _token_edit(rng: random.Random, text: str, kind: str) -> str:
    spans = _spans(text)
    s, e = rng.choice(spans)
    if kind == "delete":
        return text[:s] + text[e:]
    if kind == "duplicate":
        return text[:e] + " " + text[s:e] + text[e:]
    s2, e2 = rng.choice(spans)  # swap with a later token
    if s2 < e:
        return text
    return text[:s] + text[s2:e2] + text[e:s2] + text[s:e] + text[e2:]


def _splice(rng: random.Random, text: str) -> str:
    other = SEEDS[rng.choice(sorted(SEEDS))].splitlines()
    lines = text.splitlines(keepends=True)
    at = rng.randrange(len(lines) + 1)
    chunk = other[rng.randrange(len(other)):][: rng.choice([1, 1, 2, 5])] if other else []
    return "".join(lines[:at]) + "".join(line + "\n" for line in chunk) + "".join(lines[at:])


def _nest(rng: random.Random, text: str) -> str:
    depth = rng.choice([30, 200, 1000, 5000])
    m = _pick_outside(rng, text, NUMBER) or _pick_outside(rng, text, NAME)
    if m is None:
        return text
    if rng.random() < 0.5:  # a deep but balanced expression
        inner = "(" * depth + m.group() + ")" * depth
    else:  # unbalanced braces, brackets or parentheses
        inner = rng.choice("({[") * depth + m.group()
    return text[:m.start()] + inner + text[m.end():]


def _huge_number(rng: random.Random, text: str) -> str:
    m = _pick_outside(rng, text, NUMBER)
    if m is None:
        return text
    digits = rng.choice([19, 20, 400, 4300, 4301, 20_000])
    big = rng.choice([
        "9" * digits,
        "1" + "0" * digits,
        "0." + "0" * digits + "1",
        f"10**{digits}",
        f"({'9' * 30})**{rng.choice([2, 64, 4096])}",
        "-" + "9" * digits,
    ])
    return text[:m.start()] + big + text[m.end():]


def _long_name(rng: random.Random, text: str) -> str:
    m = _pick_outside(rng, text, NAME)
    if m is None:
        return text
    size = rng.choice([256, 4096, 100_000])
    # Every occurrence (the name stays defined) or only this one (an undefined name).
    name = m.group() + "x" * size
    if rng.random() < 0.5:
        guard = _protected(text)
        return re.sub(rf"\b{re.escape(m.group())}\b",
                      lambda o: o.group() if any(s <= o.start() < e for s, e in guard) else name,
                      text)
    return text[:m.start()] + name + text[m.end():]


def _long_string(rng: random.Random, text: str) -> str:
    strings = [m for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"', text)
               if not any(s <= m.start() < e for s, e in _protected(text))]
    if not strings:
        return text
    m = rng.choice(strings)
    filler = rng.choice(["word ", "{", "}", "{{", "\\", "é", " "]) * rng.choice([300, 10_000])
    return text[:m.end() - 1] + filler.replace('"', "") + text[m.end() - 1:]


def _unicode(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    chars = "".join(rng.choice(UNICODE) if rng.random() < 0.7 else chr(rng.randrange(0x20, 0x3000))
                    for _ in range(rng.randint(1, 4)))
    return text[:at] + chars + text[at:]


def _keyword(rng: random.Random, text: str) -> str:
    s, _ = rng.choice(_spans(text))
    return text[:s] + rng.choice(KEYWORDS) + " " + text[s:]


def _truncate(rng: random.Random, text: str) -> str:
    return text[:rng.randrange(len(text) + 1)]


TEXT_MUTATIONS: dict[str, Callable[[random.Random, str], str]] = {
    "delete": lambda r, t: _token_edit(r, t, "delete"),
    "duplicate": lambda r, t: _token_edit(r, t, "duplicate"),
    "swap": lambda r, t: _token_edit(r, t, "swap"),
    "splice": _splice,
    "nest": _nest,
    "huge-number": _huge_number,
    "long-name": _long_name,
    "long-string": _long_string,
    "keyword": _keyword,
    "unicode": _unicode,
    "truncate": _truncate,
}
MUTATIONS = [*TEXT_MUTATIONS, "byte-flip"]


def make_case(seed: int, index: int, names: list[str] | None = None) -> Case:
    """Case `index` of campaign `seed` (a pure function of the two numbers and the seeds)."""
    rng = random.Random(f"tasklang-fuzz/{seed}/{index}")
    name = rng.choice(names or sorted(SEEDS))
    text = SEEDS[name]
    ops = [rng.choice(MUTATIONS) for _ in range(rng.randint(1, 4))]
    flips = 0
    for op in ops:
        if op == "byte-flip":
            flips += 1
        else:
            text = TEXT_MUTATIONS[op](rng, text)
    data = bytearray(text.encode("utf-8"))
    for _ in range(flips):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return Case(seed, index, name, tuple(ops), bytes(data))


def campaign(seed: int, n: int, names: list[str] | None = None) -> Iterator[Case]:
    for i in range(n):
        yield make_case(seed, i, names)


# ---------------------------------------------------------------- the oracle


def materialise(tmp: Path, name: str, data: bytes) -> Path:
    """All seed files in a fresh directory (imports keep working), the mutant in place of one."""
    supports = [(s, tmp / s.relative_to(TASKS)) for s in support_files(TASKS)]  # tokenizer.json
    supports += [(s, tmp / "golden" / s.relative_to(GOLDEN)) for s in support_files(GOLDEN)]
    for support, target in supports:  # ... and reference solutions, beside their .task files
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(support.read_bytes())
    for other, body in SEEDS.items():
        target = tmp / other
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    path = tmp / name
    path.write_bytes(data)
    return path


def span_problems(checked: api.Checked) -> list[str]:
    """Diagnostics that do not point at a real position of a named file (no caret possible)."""
    out = []
    for d in checked.diagnostics:
        if not d.span.file:
            out.append(f"no file: {d.headline()}")
            continue
        text = checked.sources.get(d.span.file)
        if text is None:
            continue  # a missing or unreadable file: its diagnostic points at the name only
        lines = source_lines(text) or [""]  # numbered as the parser numbers them
        ok = 1 <= d.span.line <= len(lines) + 1 and d.span.col >= 1 and (
            d.span.line > len(lines) or d.span.col <= len(lines[d.span.line - 1]) + 1)
        ok = ok and (d.span.end_line, d.span.end_col) >= (d.span.line, d.span.col)
        if not ok:
            out.append(f"bad span {d.span.line}:{d.span.col}-{d.span.end_line}:"
                       f"{d.span.end_col}: {d.headline()[:200]}")
    return out


def _describe(err: BaseException) -> str:
    frame = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"{type(err).__name__}{where}: {str(err)[:200]}"


def run_case(case: Case, compile_clean: bool = True, tmp: Path | None = None) -> Outcome:
    """Run one case in `tmp` (a fresh temporary folder by default), removed afterwards."""
    start = time.perf_counter()
    problems: list[str] = []
    crash = None
    checked_ok = compiled = False
    tmp = tmp or Path(tempfile.mkdtemp(prefix="tasklang-fuzz-"))
    try:
        path = materialise(tmp, case.name, case.data)
        try:
            checked = api.check([str(path)])
            problems += span_problems(checked)
            checked_ok = checked.ok
            if checked_ok and compile_clean:
                out = tmp / "out"
                _, results = api.compile_paths([str(path)], out)
                compiled = True
                for r in results:
                    if r.ok != (r.out_dir is not None):
                        problems.append(f"{r.dataset}: ok={r.ok} but out_dir={r.out_dir}")
                if out.exists():
                    problems += [f"leftover {p.name}" for p in out.iterdir()
                                 if p.name.startswith(".")]
        except Exception as err:  # noqa: BLE001 - what the fuzzer looks for
            crash = _describe(err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Outcome(case, crash, tuple(problems), checked_ok, compiled,
                   time.perf_counter() - start)


def crash_class(outcome: Outcome) -> str:
    """The crash without its message: one line per distinct bug."""
    assert outcome.crash is not None
    return outcome.crash.split(":", 2)[0] + ":" + outcome.crash.split(":", 2)[1]
