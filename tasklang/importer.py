"""Importing: a GSM8K-format reference file -> a dataset in the compiler's record format.

Each worked answer is converted to a trace (`runtime.gsm8k.convert`); only problems whose
trace executes to the `####` gold answer are kept, and the rendered trace must grade 1.0
with the runtime. The rest are counted by reason in `import_report.json`. Output goes to a
temporary directory beside the target and replaces it only when complete.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime import grade, render
from runtime.gsm8k import convert
from runtime.numbers import format_number

from .budget import EOS_TOKENS, ByteUpperBound, length_stats
from .exits import reason
from .files import check_writable, staged_output
from .files import sha256_file as _sha256
from .record import MAIN_LANGUAGE, Record, record_id
from .settings import default_system
from .splits import derive_seed, question_key
from .version import __version__

PATTERN = "gsm8k_import"
TEMPLATE = "gsm8k"
LANGUAGE = MAIN_LANGUAGE  # imported problems are English
DUPLICATE = "duplicate_question"
NOT_GRADED = "gold_completion_not_correct"  # the rendered trace does not grade 1.0 (a runtime bug)
MAX_LINE_CHARS = 1_000_000


class InputError(Exception):
    """A reference file cannot be read, or one of its lines is not a GSM8K record (file:line)."""


class OptionError(InputError):
    """An option that cannot apply to this input (--split-val larger than what converted)."""


@dataclass(frozen=True, slots=True)
class RefProblem:
    index: int  # 0-based position among the file's problems
    line: int  # 1-based line in the file
    question: str
    answer: str


def read_reference(path: str | Path, need_question: bool = False) -> list[RefProblem]:
    """Every record of a GSM8K-format JSONL file ({"question", "answer"} per line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a JSONL file") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {reason(err)}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 (byte 0x{err.object[err.start]:02x} at offset "
                         f"{err.start})") from None
    out: list[RefProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        out.append(_problem(path, number, line, len(out), need_question))
    return out


def _problem(path: str | Path, number: int, line: str, index: int,
             need_question: bool) -> RefProblem:
    where = f"{path}:{number}"
    if len(line) > MAX_LINE_CHARS:
        raise InputError(f"{where}: line longer than {MAX_LINE_CHARS} characters")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"{where}: not JSON: {err.msg} (column {err.colno})") from None
    except (RecursionError, ValueError) as err:  # deep nesting, an integer over 4,300 digits
        raise InputError(f"{where}: not a GSM8K record: {type(err).__name__}") from None
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected an object with \"question\" and \"answer\"")
    answer, question = record.get("answer"), record.get("question", "")
    if not isinstance(answer, str):
        raise InputError(f"{where}: \"answer\" must be a string (a worked GSM8K answer)")
    if not isinstance(question, str) or (need_question and not question.strip()):
        raise InputError(f"{where}: \"question\" must be a non-empty string")
    return RefProblem(index, number, question, answer)


# ================================================================ import


@dataclass(frozen=True, slots=True)
class Imported:
    problem: RefProblem
    expert: str
    answer: str
    completion: str


@dataclass
class ImportResult:
    out_dir: Path | None
    total: int
    kept: int
    counts: dict[str, int] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    report: dict[str, Any] = field(default_factory=dict)


def convert_all(problems: list[RefProblem]) -> tuple[list[Imported], Counter[str],
                                                     dict[str, list[int]]]:
    """Problems whose trace reaches the gold answer (first of each question only), and the
    reasons the others were dropped (with their line numbers)."""
    kept: list[Imported] = []
    reasons: Counter[str] = Counter()
    lines: dict[str, list[int]] = {}
    seen: set[bytes] = set()

    def drop(reason: str, p: RefProblem) -> None:
        reasons[reason] += 1
        lines.setdefault(reason, []).append(p.line)

    for p in problems:
        conv = convert(p.answer, p.question)
        if not conv.ok or conv.trace is None or conv.gold is None:
            drop(conv.reason or "unknown", p)
            continue
        key = question_key(p.question)
        if key in seen:
            drop(DUPLICATE, p)
            continue
        seen.add(key)
        completion = render(conv.trace)
        answer = format_number(conv.gold)
        if grade(completion, answer, expert=conv.trace.expert).reward != 1.0:
            drop(NOT_GRADED, p)
            continue
        kept.append(Imported(p, conv.trace.expert, answer, completion))
    return kept, reasons, lines


def assign_splits(kept: list[Imported], val: int, seed: int) -> dict[str, list[Imported]]:
    """A deterministic val split of `val` problems chosen by hashing (seed, index)."""
    chosen = set(sorted(range(len(kept)),
                        key=lambda i: derive_seed(seed, PATTERN, kept[i].problem.index))[:val])
    splits: dict[str, list[Imported]] = {"train": [k for i, k in enumerate(kept) if i not in chosen]}
    if val:
        splits["val"] = [k for i, k in enumerate(kept) if i in chosen]
    return splits


def record(item: Imported, dataset: str, split: str, index: int, system: str) -> Record:
    """The record of an imported problem: the compiler's Record (tasklang.record)."""
    return Record(
        id=record_id(dataset, split, index), split=split, pattern=PATTERN, expert=item.expert,
        experts=(item.expert,), template_id=TEMPLATE, language=LANGUAGE,
        payload=(("index", str(item.problem.index)),), answer=item.answer, system=system,
        question=item.problem.question, completion=item.completion,
    )


def import_gsm8k(ref: str | Path, out: str | Path, split_val: int = 0, seed: int = 0,
                 system: str | None = None) -> ImportResult:
    """Convert `ref` into `out/{train,val}.jsonl`, manifest.json and import_report.json.

    Raises InputError for unreadable input, bad lines or an impossible split; writes
    nothing when no problem converts (out_dir is None then).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"cannot write {out}: Not a directory")
    check_writable(out.parent, shown=out)  # before converting: the dataset is staged beside OUT
    problems = read_reference(ref, need_question=True)
    kept, reasons, lines = convert_all(problems)
    result = ImportResult(None, len(problems), len(kept), reasons=reasons)
    if split_val > len(kept):
        raise OptionError(f"--split-val {split_val}: only {len(kept)} problems converted")
    if split_val and split_val == len(kept):
        raise OptionError(f"--split-val {split_val} leaves no training problem")
    result.report = _report(ref, problems, kept, reasons, lines)
    if not kept:
        return result
    experts = sorted({k.expert for k in kept})
    system = system if system is not None else default_system(experts)
    splits = assign_splits(kept, split_val, seed)
    result.counts = {name: len(items) for name, items in splits.items()}
    result.report["splits"] = result.counts
    # The compiler's atomic, locked path, with out's parent as the root (its lock file is
    # out/../.tasklang.lock while this runs).
    with staged_output(out.parent, shown=out, names=[out.name]) as staging:
        tmp = staging.dir / out.name
        tmp.mkdir()
        _write(tmp, out.name, splits, system, ref, seed, split_val, experts, result.report)
        staging.commit([out.name])
    result.out_dir = out
    return result


def _report(ref: str | Path, problems: list[RefProblem], kept: list[Imported],
            reasons: Counter[str], lines: dict[str, list[int]]) -> dict[str, Any]:
    return {
        "tool": "tasklang", "version": __version__, "source": Path(ref).name,
        "problems": len(problems), "kept": len(kept), "dropped": sum(reasons.values()),
        "reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "example_lines": {r: ls[:10] for r, ls in sorted(lines.items())},
    }


def _write(tmp: Path, name: str, splits: dict[str, list[Imported]], system: str,
           ref: str | Path, seed: int, split_val: int, experts: list[str],
           report: dict[str, Any]) -> None:
    counter = ByteUpperBound()
    manifest_splits, counts, tokens = {}, {}, {}
    for split, items in splits.items():
        path = tmp / f"{split}.jsonl"
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            for i, item in enumerate(items):
                fh.write(record(item, name, split, i, system).to_line())
                fh.write("\n")
        manifest_splits[split] = {"size": len(items), "file": path.name, "sha256": _sha256(path),
                                  "templates": "shared", "leak_redraws": 0}
        counts[split] = {"experts": dict(sorted(Counter(k.expert for k in items).items())),
                         "patterns": {PATTERN: len(items)}, "templates": {TEMPLATE: len(items)},
                         "languages": {LANGUAGE: len(items)}}
        prompts = counter.prompt_lengths([(system, k.problem.question) for k in items])
        targets = counter.text_lengths([k.completion for k in items])
        totals = [p + c + EOS_TOKENS for p, c in zip(prompts, targets, strict=True)]
        tokens[split] = {"prompt": length_stats(prompts), "completion": length_stats(targets),
                         "total": length_stats(totals)}
    ref_path = Path(ref)
    manifest = {
        "tool": "tasklang", "version": __version__, "dataset": name,
        "source": ref_path.name, "importer": "gsm8k",
        "settings": {"seed": seed, "system": system, "split_val": split_val},
        "patterns": {PATTERN: 1.0}, "experts": experts,
        "token_counting": {"method": counter.description, "exact": counter.exact},
        "splits": manifest_splits, "counts": counts, "tokens": tokens,
        "files": {ref_path.name: _sha256(ref_path)},
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                       encoding="utf-8")
    (tmp / "import_report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n",
                                            encoding="utf-8")
