"""`tasklang train ...` and `tasklang eval ...` end to end on a tiny model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tasklang.cli import main

from .conftest import ROOT, TINY


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_sft_then_eval_then_compare(dataset_dir, tmp_path) -> None:
    run = tmp_path / "run"
    result = _run(
        "train",
        "sft",
        "--model",
        "tiny",
        "--data",
        str(dataset_dir),
        "-o",
        str(run),
        "--steps",
        "6",
        "--batch-size",
        "8",
        "--val-n",
        "4",
        "--max-new-tokens",
        "8",
        "--tiny-config",
        json.dumps(TINY),
    )
    assert result.exit_code == 0, result.output
    assert (run / "checkpoint" / "config.json").exists()
    out_a = tmp_path / "a.jsonl"
    result = _run(
        "eval",
        "--model",
        str(run),
        "--data",
        str(dataset_dir / "val.jsonl"),
        "-o",
        str(out_a),
        "--max-new-tokens",
        "8",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["n"] == 24 and 0.0 <= summary["accuracy"] <= 1.0
    assert len(summary["wilson95"]) == 2 and "warning" in summary  # n=24 is too small to claim much
    assert set(summary["by"]) == {"expert", "pattern", "template_id", "language"}
    rows = [json.loads(line) for line in out_a.read_text().splitlines()]
    assert len(rows) == 24 and {"id", "correct", "status", "reward", "output"} <= set(rows[0])
    assert json.loads((tmp_path / "a.jsonl.summary.json").read_text())["n"] == 24

    # Compare against a fabricated "all correct" result on the same ids.
    out_b = tmp_path / "b.jsonl"
    out_b.write_text("".join(json.dumps({**r, "correct": True}) + "\n" for r in rows))
    result = _run("eval", "compare", str(out_a), str(out_b), "--format", "json")
    assert result.exit_code == 0, result.output
    cmp = json.loads(result.stdout)
    wrong_a = sum(1 for r in rows if not r["correct"])
    assert cmp["n"] == 24 and cmp["accuracy_b"] == 1.0
    assert cmp["only_b_correct"] == wrong_a and cmp["only_a_correct"] == 0
    assert {"mcnemar_p", "cohens_h", "discordant"} <= set(cmp)


def test_bad_inputs_exit_1_and_bad_options_exit_2(dataset_dir, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    result = _run("eval", "--model", "tiny", "--data", str(bad), "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 1 and "bad.jsonl:1: not JSON" in result.output
    result = _run(
        "train",
        "sft",
        "--model",
        str(tmp_path / "nowhere"),
        "--data",
        str(dataset_dir),
        "-o",
        str(tmp_path / "r"),
    )
    assert result.exit_code == 1 and "nowhere: no such file or directory" in result.output
    result = _run(
        "train",
        "sft",
        "--model",
        "tiny",
        "--data",
        str(dataset_dir),
        "-o",
        str(tmp_path / "r"),
        "--mode",
        "last-n",
        "--last-n",
        "9",
        "--tiny-config",
        json.dumps(TINY),
    )
    assert result.exit_code == 2 and "has 2 layers" in result.output
    result = _run("train", "rl", "--model", "tiny", "--data", str(dataset_dir), "-o",
                  str(tmp_path / "rl"), "--prompt-split", "val")
    assert result.exit_code == 1 and "val is what checkpoints are chosen on" in result.output
    result = _run("eval", "compare", str(bad), str(bad))
    assert result.exit_code == 1 and "not JSON" in result.output
    result = _run("eval", "--model", "tiny")
    assert result.exit_code == 2 and "needs --data, -o" in result.output


def test_an_unwritable_out_is_one_line_before_any_model_loads(dataset_dir, tmp_path) -> None:
    # -o under a file; the model is missing too, so an error about -o proves it came first
    # (before: eval generated every answer and then failed naming its temporary file)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    missing = str(tmp_path / "no-model")
    data = str(dataset_dir)
    commands = {
        "eval": ["eval", "--model", missing, "--data", data, "-o", str(blocker / "sub" / "o.jsonl")],
        "gap": ["eval", "gap", "--model", missing, "--model", missing, "--data", data,
                "-o", str(blocker / "g")],
        "sft": ["train", "sft", "--model", missing, "--data", data, "-o", str(blocker / "r")],
        "rl": ["train", "rl", "--model", missing, "--data", data, "-o", str(blocker / "r")],
        "loop": ["train", "loop", "--model", missing, "--data", data, "-o", str(blocker / "r")],
    }
    for name, args in commands.items():
        result = _run(*args)
        out = args[args.index("-o") + 1]
        assert result.exit_code == 1, (name, result.output)
        assert result.output == f"tasklang: error: cannot write {out}: Not a directory\n", name


def test_eval_makes_the_folder_of_its_output(dataset_dir, tiny, tmp_path) -> None:
    from train.models import save

    save(*tiny, tmp_path / "model")
    out = tmp_path / "new" / "deeper" / "o.jsonl"
    result = _run("eval", "--model", str(tmp_path / "model"), "--data", str(dataset_dir), "-o", str(out),
                  "-n", "2", "--max-new-tokens", "2")
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 2 and (out.parent / "o.jsonl.summary.json").exists()


@settings(max_examples=80, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-3, 3000) | st.floats(allow_nan=False)
                    | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["num_hidden_layers", "seed", "hidden_size", "nope"]),
                                      inner, max_size=3),
                    max_leaves=6))
def test_tiny_config_is_a_spec_or_one_line_about_the_option(value) -> None:
    from train.models import ModelError, TinySpec

    try:
        spec = TinySpec.from_json(json.dumps(value))
    except ModelError as err:
        assert str(err).startswith("--tiny-config: ") and "\n" not in str(err)
        assert "__init__" not in str(err)  # was: "TinySpec.__init__() got an unexpected keyword"
        return
    assert isinstance(value, dict) and all(getattr(spec, k) == v for k, v in value.items())


def test_a_bad_tiny_config_is_a_bad_option(dataset_dir, tmp_path) -> None:
    for text in ('{bad', '{"nope": 1}', '[2]', '{"num_hidden_layers": 0}', '{"seed": "x"}'):
        result = _run("train", "sft", "--model", "tiny", "--data", str(dataset_dir),
                      "-o", str(tmp_path / "r"), "--tiny-config", text)
        assert result.exit_code == 2, (text, result.output)
        assert result.output.startswith("tasklang: error: --tiny-config: ") and result.output.count("\n") == 1


def test_an_import_without_a_val_split_trains_like_its_train_file(tmp_path) -> None:
    # was: "no val.jsonl (is this a `tasklang compile` output directory?)" for the very
    # directory `tasklang import gsm8k REF -o DIR` writes by default
    data = tmp_path / "gsm"
    assert _run("import", "gsm8k", str(ROOT / "tests" / "data" / "gsm8k_train_sample.jsonl"),
                "-o", str(data)).exit_code == 0
    assert not (data / "val.jsonl").exists()
    result = _run("train", "sft", "--model", "tiny", "--data", str(data), "-o", str(tmp_path / "r"),
                  "--steps", "1", "--batch-size", "2", "--tiny-config", json.dumps(TINY))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["step"] == 1


def test_bad_eval_options_are_one_line_and_exit_2(dataset_dir, tmp_path) -> None:
    common = ["eval", "--model", "tiny", "--data", str(dataset_dir), "-o", str(tmp_path / "o.jsonl")]
    for bad, words in ((["--samples", "0"], "'--samples': 0 is not in the range x>=1"),
                       (["--temperature", "-1"], "'--temperature': -1.0 is not in the range x>0"),
                       (["--top-p", "0"], "'--top-p'"),
                       (["-n", "0"], "'-n'")):
        result = _run(*common, *bad)
        assert result.exit_code == 2 and result.output.count("\n") == 1, (bad, result.output)
        assert result.output.startswith("tasklang: error: Invalid value for ") and words in result.output
        assert result.output.rstrip().endswith("(see `tasklang eval --help`)")
