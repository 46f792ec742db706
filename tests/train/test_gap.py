"""`tasklang eval gap` and `eval power`, and eval's --split, --samples and budget (end to end on tiny)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tasklang.cli import main
from train.gap import Thresholds, render, report
from train.stats import cohens_h, mcnemar_exact

from .conftest import TINY


def _results(n: int, right: set[int]) -> list[dict]:
    return [{"id": f"r{i}", "correct": i in right} for i in range(n)]


def test_gap_needs_every_gate_in_every_base_format() -> None:
    other = _results(40, set(range(36)))
    arms = {"base.chat": _results(40, set(range(4))), "base.plain": _results(40, set(range(6))),
            "other.chat": other}
    rep = report(arms, {}, Thresholds(), "other.chat")
    assert rep["verdict"] == "gap" and rep["failed"] == []
    chat = rep["comparisons"]["base.chat"]
    assert (chat["b"], chat["c"]) == (0, 32)
    assert chat["mcnemar_p"] == pytest.approx(mcnemar_exact(0, 32))
    assert chat["cohens_h"] == pytest.approx(cohens_h(0.1, 0.9))
    assert rep["arms"]["base.plain"]["accuracy"] == pytest.approx(0.15)
    assert rep["arms"]["other.chat"]["wilson95"][0] < 0.9 < rep["arms"]["other.chat"]["wilson95"][1]
    assert render(rep)[-1].startswith("verdict: gap")

    # notes 001: the plain cue alone makes the base model capable; no gap, whatever chat says.
    arms["base.plain"] = _results(40, set(range(20)))
    rep = report(arms, {}, Thresholds(), "other.chat")
    assert rep["verdict"] == "no gap" and rep["failed"] == ["base.plain: base <= 0.3 fails"]
    assert "base.plain: base <= 0.3 fails" in render(rep)[-1]
    # A looser gate passes it: b = 0, c = 16 still gives p ~ 3e-5 and h = 0.93.
    assert report(arms, {}, Thresholds(base_max=0.6), "other.chat")["verdict"] == "gap"
    assert report(arms, {}, Thresholds(base_max=0.6, min_h=1.0), "other.chat")["verdict"] == "no gap"


def test_a_base_format_that_could_not_run_is_reported() -> None:
    arms = {"base.plain": _results(30, set()), "other.chat": _results(30, set(range(30)))}
    rep = report(arms, {"base.chat": "the base tokenizer has no chat template"}, Thresholds(), "other.chat")
    assert rep["verdict"] == "gap" and list(rep["comparisons"]) == ["base.plain"]
    assert any("not measured: the base tokenizer has no chat template" in line for line in render(rep))


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_dir(records, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from train.models import TinySpec, build_tiny, save

    model, tok = build_tiny(records, TinySpec(**TINY))
    out = tmp_path_factory.mktemp("tiny") / "model"
    save(model, tok, out)
    return out


def test_eval_reads_a_dataset_directory_and_says_which_split(dataset_dir, tiny_dir, tmp_path) -> None:
    out = tmp_path / "e.jsonl"
    result = _run("eval", "--model", str(tiny_dir), "--data", str(dataset_dir), "-o", str(out), "-n", "2")
    assert result.exit_code == 0, result.output
    assert "(split val; the default: the directory has no test split)" in result.output
    manifest = dataset_dir / "manifest.json"
    assert f"max new tokens 400 (from {manifest} settings.max_new_tokens)" in result.output
    summary = json.loads((tmp_path / "e.jsonl.summary.json").read_text())
    assert summary["split"] == "val" and summary["n"] == 2 and summary["max_new_tokens"] == 400
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert all("/val/" in i for i in ids)

    result = _run("eval", "--model", str(tiny_dir), "--data", str(dataset_dir), "--split", "train",
                  "-o", str(out), "-n", "1", "--max-new-tokens", "4", "--format", "json")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["split"] == "train" and "split_note" not in summary
    assert summary["max_new_tokens_source"] == "--max-new-tokens"
    result = _run("eval", "--model", str(tiny_dir), "--data", str(dataset_dir), "--split", "rl",
                  "-o", str(out))
    assert result.exit_code == 1 and "no split rl (rl.jsonl); its splits: train, val" in result.output


def test_eval_samples_are_reproducible_and_per_record(dataset_dir, tiny_dir, tmp_path) -> None:
    def sampled(n: str, name: str) -> tuple[dict, list[dict]]:
        out = tmp_path / name
        result = _run("eval", "--model", str(tiny_dir), "--data", str(dataset_dir), "-o", str(out), "-n", n,
                      "--max-new-tokens", "6", "--samples", "3", "--temperature", "0.9", "--seed", "5",
                      "--format", "json")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        rows = [json.loads(line) for line in (tmp_path / f"{name}.samples.jsonl").read_text().splitlines()]
        return summary, rows

    summary, rows = sampled("3", "a.jsonl")
    again, rows_again = sampled("3", "b.jsonl")
    _, fewer = sampled("2", "c.jsonl")
    s = summary["sampling"]
    assert (s["k"], s["temperature"], s["top_p"], s["seed"]) == (3, 0.9, 1.0, 5)
    assert list(s["pass_at"]) == ["1", "2", "3"] and s["pass_at"]["1"] <= s["pass_at"]["3"]
    assert {"majority_accuracy", "majority_wilson95", "no_answer"} <= set(s)
    assert "accuracy" in summary  # greedy is always run beside the samples
    def stable(d: dict) -> dict:  # peak memory is measured, not reproduced
        return {k: v for k, v in d.items() if not k.startswith("peak_") and k != "data"}

    assert rows == rows_again and stable(summary) == stable(again)
    assert rows[:2] == fewer  # a record's samples do not depend on the other records
    assert all(len(r["outputs"]) == 3 for r in rows)
    assert len({o for r in rows for o in r["outputs"]}) > 1


def test_eval_gap_end_to_end(dataset_dir, tiny_dir, tmp_path) -> None:
    out = tmp_path / "gap"
    result = _run("eval", "gap", "--model", str(tiny_dir), "--model", str(tiny_dir),
                  "--data", str(dataset_dir), "-n", "3", "--max-new-tokens", "6", "-o", str(out),
                  "--format", "json")
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    assert set(rep["arms"]) == {"base.chat", "base.plain", "other.chat"}
    assert set(rep["comparisons"]) == {"base.chat", "base.plain"}
    # The same model on the same prompts: no discordant pair, nothing to claim.
    chat = rep["comparisons"]["base.chat"]
    assert (chat["b"], chat["c"], chat["mcnemar_p"], chat["cohens_h"]) == (0, 0, 1.0, 0.0)
    assert rep["verdict"] == "no gap" and rep["thresholds"] == {
        "base_max": 0.3, "other_min": 0.8, "alpha": 0.01, "min_h": 0.5}
    assert rep["split"] == "val" and rep["max_new_tokens"] == 6
    assert sorted(p.name for p in out.iterdir()) == [
        "base.chat.jsonl", "base.plain.jsonl", "gap.json", "other.chat.jsonl"]
    assert json.loads((out / "gap.json").read_text())["verdict"] == "no gap"

    result = _run("eval", "gap", "--model", str(tiny_dir), "--data", str(dataset_dir), "--min-h", "0.2",
                  "--alpha", "0.05")
    assert result.exit_code == 2 and "needs --model twice" in result.output
    result = _run("eval", "gap", "--model", str(tiny_dir), "--model", str(tmp_path / "missing"),
                  "--data", str(dataset_dir), "-n", "1", "--max-new-tokens", "2")
    assert result.exit_code == 1 and "tasklang: error:" in result.output


def test_eval_power() -> None:
    result = _run("eval", "power", "--p10", "0.05", "--p01", "0.45", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n"] == 25 and out["exact_power_at_n"] >= 0.8 and out["method"] == "exact"
    result = _run("eval", "power", "--discordance", "0.2", "--difference", "0.1", "--method", "connor")
    assert result.exit_code == 0 and result.stdout.startswith("n = 155 pairs (connor)")
    for bad in (["--p10", "0.1"], ["--p10", "0.1", "--p01", "0.1"],
                ["--discordance", "0.1", "--difference", "0.2"],
                ["--p10", "0.1", "--p01", "0.2", "--difference", "0.1"]):
        result = _run("eval", "power", *bad)
        assert result.exit_code == 2 and result.output.startswith("tasklang: error:"), bad


def test_arms_run_on_a_placement(tiny_dir, records) -> None:
    from train.devices import resolve
    from train.gap import evaluate_arms

    arms, skipped = evaluate_arms(str(tiny_dir), str(tiny_dir), records[:2], 4, 2, "plain",
                                  placement=resolve("cpu", "fp32"))
    assert list(arms) == ["base.chat", "base.plain", "other.plain"] and skipped == {}
    assert [r["id"] for r in arms["other.plain"]] == [r["id"] for r in records[:2]]
    assert [r["output"] for r in arms["base.plain"]] == [r["output"] for r in arms["other.plain"]]


def test_eval_gap_reuses_the_base_arms_of_an_earlier_gap(dataset_dir, tiny_dir, tmp_path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    common = ["--data", str(dataset_dir), "-n", "3", "--max-new-tokens", "6", "--format", "json"]
    tiny_twice = ["--model", str(tiny_dir), "--model", str(tiny_dir)]
    result = _run("eval", "gap", *tiny_twice, *common, "-o", str(before))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # where it ran and its peak memory, as eval states them
    assert report["device"] == "cpu" and report["dtype"] == "fp32" and report["peak_rss_bytes"] > 2**20
    # Mark one base answer right by hand: only a report that read the file can show it.
    rows = [json.loads(line) for line in (before / "base.plain.jsonl").read_text().splitlines()]
    rows[0]["correct"] = not rows[0]["correct"]
    (before / "base.plain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _run("eval", "gap", "--model", str(tiny_dir), "--model", str(tiny_dir), *common,
                  "--base-results", str(before), "-o", str(after))
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    assert rep["base_results"] == str(before)
    reused = [json.loads(line) for line in (after / "base.plain.jsonl").read_text().splitlines()]
    assert [r["correct"] for r in reused] == [r["correct"] for r in rows]
    assert rep["comparisons"]["base.plain"]["b"] + rep["comparisons"]["base.plain"]["c"] >= 1
    assert rep["comparisons"]["base.chat"]["b"] == rep["comparisons"]["base.chat"]["c"] == 0
    # Other records, another budget or another base model: refused, saying what differs.
    data = ["--data", str(dataset_dir)]
    same = ["-n", "3", "--max-new-tokens", "6"]
    for args, message in ((["-n", "2", "--max-new-tokens", "6"], "answered other records"),
                          (["-n", "3", "--max-new-tokens", "5"], "max new tokens 6 here 5"),
                          ([*same, "--split", "train"], "answered other records"),
                          ([*same, "--dtype", "bf16"], "dtype 'fp32' here 'bf16'")):
        result = _run("eval", "gap", *tiny_twice, *data, *args, "--base-results", str(before))
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    result = _run("eval", "gap", "--model", "tiny", "--model", str(tiny_dir), *common,
                  "--base-results", str(before))
    assert result.exit_code == 1 and "base model" in result.output
    result = _run("eval", "gap", "--model", str(tiny_dir), "--model", str(tiny_dir), *common,
                  "--base-results", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and result.output == (
        f"tasklang: error: --base-results {tmp_path / 'nowhere'}: no readable gap.json "
        "(No such file or directory)\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "gap.json").write_text("{")
    result = _run("eval", "gap", "--model", str(tiny_dir), "--model", str(tiny_dir), *common,
                  "--base-results", str(tmp_path / "broken"))
    assert result.exit_code == 1 and "no readable gap.json (not JSON: " in result.output
