"""Re-phrase a held-out split with the training phrasings: new payloads, known wording.

    python bench/phrasing_probe.py tasks/operators/operators.task build/operators/val.jsonl \
        -o probe.jsonl

A model that fails a held-out split may fail on the new payloads (it memorised its
training words instead of learning the operation) or on the new wording (it never met
"Parrot:" in training). Evaluating the same val payloads phrased with the train
templates separates the two. Each val record keeps its id, payload and answer; its user
message is rendered again from a train template of the same pattern and language (taken
in turn), and `template_id` names that template.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasklang.api import check  # noqa: E402
from tasklang.compiler import compile_template  # noqa: E402
from tasklang.files import write_text_atomic  # noqa: E402
from tasklang.formats import parse_template  # noqa: E402

Render = Callable[[dict[str, Any]], str]


def train_templates(task: Path) -> dict[tuple[str, str], list[tuple[str, Render]]]:
    """(pattern, language) -> [(template id, compiled template)] of those train may use."""
    checked = check([str(task)])
    if not checked.ok:
        raise SystemExit("\n".join(d.headline() for d in checked.diagnostics if d.is_error))
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for p in checked.program.patterns.values():
        for i, t in enumerate(p.templates):
            if not t.splits or "train" in t.splits:
                render = compile_template(parse_template(t.text).parts)
                out.setdefault((p.name, t.lang or "en"), []).append((f"{p.name}/{t.name or i}",
                                                                      render))
    return out


def rephrase(records: list[dict], templates: dict[tuple[str, str], list[tuple[str, Render]]]
             ) -> list[dict]:
    turn: dict[tuple[str, str], int] = {}
    out = []
    for r in records:
        key = (r["pattern"], r.get("language", "en"))
        choices = templates[key]
        tid, render = choices[turn.get(key, 0) % len(choices)]
        turn[key] = turn.get(key, 0) + 1
        question = render(json.loads(r["payload"]))
        prompt = [m if m["role"] != "user" else {**m, "content": question} for m in r["prompt"]]
        out.append({**r, "prompt": prompt, "template_id": tid})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", type=Path)
    parser.add_argument("split", type=Path, help="a compiled held-out split (JSONL)")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    records = [json.loads(line) for line in args.split.read_text().splitlines() if line.strip()]
    probed = rephrase(records, train_templates(args.task))
    write_text_atomic(args.out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in probed))
    print(f"{len(probed)} records re-phrased with train templates -> {args.out}")


if __name__ == "__main__":
    main()
