"""bench/gap_summary.py, which makes docs/RESULTS.md's SmolLM2 tables: it reads an `eval gap -o`
directory graded by the real runtime, and its lenient side check reads the last number."""

from __future__ import annotations

import importlib.util
import json
import sys

from train.evaluate import grade_outputs
from train.gap import Thresholds, report

from .conftest import ROOT


def _module():
    spec = importlib.util.spec_from_file_location("gap_summary", ROOT / "bench" / "gap_summary.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gap_summary"] = module
    spec.loader.exec_module(module)
    return module


def test_last_number_is_answer() -> None:
    check = _module().last_number_is_answer
    assert check({"output": "so 3 x 5 = 15 hours", "answer": "15"})
    assert check({"output": "It costs 1,250 dollars.", "answer": "1250"})
    assert check({"output": "the answer is 2.50", "answer": "2.5"})
    assert not check({"output": "15 hours, then 3", "answer": "15"})
    assert not check({"output": "no numbers here", "answer": "15"})
    assert not check({"output": "answer 4", "answer": "four"})


def test_summary_of_a_gap_directory(records, tmp_path, capsys) -> None:
    module = _module()
    recs = records[:4]
    gold = [r["completion"][-1]["content"] for r in recs]
    arms = {
        "base.chat": grade_outputs(recs, ["I think it is 7."] * 4),
        "base.plain": grade_outputs(recs, ["expert: nope"] * 4),
        "other.chat": grade_outputs(recs, gold[:3] + ["garbage"]),
    }
    directory = tmp_path / "gap.after"
    directory.mkdir()
    for name, rows in arms.items():
        (directory / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = {"base": "b", "other": "o", "max_new_tokens": 9, "max_new_tokens_source": "--max-new-tokens",
           **report(arms, {}, Thresholds(), "other.chat")}
    (directory / "gap.json").write_text(json.dumps(rep))
    out = tmp_path / "summary.json"
    assert module.main([str(directory), "-o", str(out)]) == 0
    got = json.loads(out.read_text())["gap.after"]
    other = got["arms"]["other.chat"]
    assert (other["n"], other["correct"]) == (4, 3)
    assert (other["parse_rate"], other["valid_trace_rate"]) == (0.75, 0.75)
    assert got["arms"]["base.chat"]["statuses"] == {"parse_failure": 4}
    assert got["comparisons"]["base.chat"]["c"] == 3
    assert "| other.chat | 4 | 3 | 0.7500 |" in capsys.readouterr().out
    assert module.main([str(tmp_path / "missing")]) == 1
