"""Held-out strict coverage of a GSM8K library templated by `import gsm8k --as-task`.

Holds out the last lines of GSM8K train (by default lines 6001-7473, 1,473 problems),
templates lines 1-6000 with `tasklang import gsm8k --as-task --lines 1-6000
--decontaminate HELD_OUT`, compiles the output with `tasklang compile --decontaminate
HELD_OUT` (every file must compile: uniqueness, token budget, decontamination), and
measures how much of the held-out part the compiled library strictly covers, with
`tasklang.coverage` (the audit's coverage: same computation-graph shape). The shapes are
read from the compiled records' gold completions, so what is measured is what compiled.

    python bench/gsm8k_astask.py [PATH] [--hold-from 6001] [--work DIR] [--json OUT]

PATH defaults to $TASKLANG_GSM8K, else ../shared/data/gsm8k_train.jsonl beside the repository.
Prints the figures recorded in docs/IMPORT.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from runtime import ComposedTrace, Trace, from_data, load  # noqa: E402
from runtime.analysis import op_multiset, shape_of  # noqa: E402
from tasklang.audit import PatternAudit  # noqa: E402
from tasklang.coverage import coverage  # noqa: E402
from tasklang.importer import read_reference  # noqa: E402


def cli(*args: str) -> float:
    """Run the tasklang CLI of this checkout; its wall time. Stops on failure."""
    started = time.perf_counter()
    env_cmd = [sys.executable, "-m", "tasklang.cli", *args]
    done = subprocess.run(env_cmd, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)
    sys.stderr.write(done.stderr[-3000:])
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): tasklang {' '.join(args)}")
    return time.perf_counter() - started


def library_patterns(build: Path) -> list[PatternAudit]:
    """One PatternAudit per compiled pattern, its shapes read from the gold completions."""
    found: dict[str, PatternAudit] = {}
    for path in sorted(build.glob("*/train.jsonl")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if not line:
                continue
            record = json.loads(line)
            name = record["pattern"]
            pa = found.setdefault(name, PatternAudit(name, str(path), 0, ("arithmetic",), "trace", 1))
            trace = from_data(load(record["completion"][0]["content"]))
            if not isinstance(trace, (Trace, ComposedTrace)):  # a compiled gold trace always is
                raise SystemExit(f"{path}: {record['id']}: gold completion does not parse: {trace}")
            shape = shape_of(trace)
            if shape is not None:
                pa.shapes[shape] += 1
            pa.multisets[op_multiset(trace)] += 1
    return list(found.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", default=os.environ.get(
        "TASKLANG_GSM8K", str(REPO.parent / "shared" / "data" / "gsm8k_train.jsonl")))
    ap.add_argument("--hold-from", type=int, default=6001, help="first held-out line (1-based)")
    ap.add_argument("--work", default=None, help="keep the output here (default: a temp dir)")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="astask-"))
    work.mkdir(parents=True, exist_ok=True)
    lines = Path(args.path).read_text(encoding="utf-8").splitlines()
    held = work / "held_out.jsonl"
    held.write_text("\n".join(lines[args.hold_from - 1:]) + "\n", encoding="utf-8")
    last = args.hold_from - 1
    lib, build = work / "library", work / "build"
    t_import = cli("import", "gsm8k", args.path, "--as-task", "--lines", f"1-{last}", "-o", str(lib),
                   "--decontaminate", str(held))
    t_compile = cli("compile", str(lib), "-o", str(build), "--decontaminate", str(held))
    report = json.loads((lib / "astask_report.json").read_text(encoding="utf-8"))
    patterns = library_patterns(build)
    cov = coverage(str(held), read_reference(held), patterns, top=10)
    shapes = Counter(s for pa in patterns for s in pa.shapes)
    figures = {
        "source": Path(args.path).name, "templated_lines": [1, last],
        "held_out_lines": [args.hold_from, len(lines)],
        "problems": report["problems"], "templated": report["templated"],
        "templated_fraction": round(report["templated"] / report["problems"], 4),
        "reasons": report["reasons"], "rates": report["rates"],
        "files": len(report["files"]), "compiled_patterns": len(patterns),
        "distinct_shapes": len(shapes),
        "held_out": {"problems": cov.total, "expressible": cov.expressible,
                     "strict": cov.covered, "loose": cov.loosely_covered,
                     "strict_fraction": round(cov.covered / cov.total, 4),
                     "loose_fraction": round(cov.loosely_covered / cov.total, 4),
                     "strict_of_expressible": round(cov.covered / max(1, cov.expressible), 4)},
        "seconds": {"import": round(t_import, 1), "compile": round(t_compile, 1)},
        "work": str(work),
    }
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
