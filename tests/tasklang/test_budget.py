"""budget: prompt (chat wrapper + system + question) and target tokens, with or without a tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from tasklang import api
from tasklang.budget import ByteUpperBound, TokenizerJson, TokenizerLoadError, make_counter
from tasklang.record import payload_of

from .helpers import read_jsonl, write


def word_tokenizer(path: Path) -> Path:
    """A tiny whitespace word-level tokenizer: one token per word or punctuation run."""
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "the": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(path))
    return path


def test_byte_upper_bound() -> None:
    counter = ByteUpperBound()
    assert counter.text_lengths(["abc", "é"]) == [3, 2]
    (n,) = counter.prompt_lengths([("sys", "q")])
    assert n == len("<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nq<|im_end|>\n"
                    "<|im_start|>assistant\n")
    assert not counter.exact


def test_tokenizer_json_counts_exactly(tmp_path: Path) -> None:
    counter = TokenizerJson(word_tokenizer(tmp_path / "tok.json"))
    assert counter.exact
    assert counter.text_lengths(["sacks of flour", "pear", ""]) == [3, 1, 0]
    (p,) = counter.prompt_lengths([("be brief", "how many")])
    assert p > 4  # the wrapper's tokens are counted too


def test_make_counter(tmp_path: Path) -> None:
    assert isinstance(make_counter(None, tmp_path), ByteUpperBound)
    word_tokenizer(tmp_path / "tok.json")
    assert isinstance(make_counter("tok.json", tmp_path), TokenizerJson)  # relative to the file
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(TokenizerLoadError):
        make_counter("bad.json", tmp_path)


def test_dataset_with_a_tokenizer_and_max_tokens(tmp_path: Path) -> None:
    word_tokenizer(tmp_path / "tok.json")
    write(tmp_path, "fields: [text]\nentries:\n  - {text: big red apple}\n  - {text: pear}\n"
                    "  - {text: green fig}\n", "fruit.yaml")
    src = write(tmp_path, """
        vocab fruit from "fruit"
        pattern copy {
            let f = pick fruit max_tokens 1
            let n = int 1..999
            template "Repeat: {f} {n}"
            answer "{f} {n}"
        }
        dataset toks {
            patterns copy
            split train 10
            tokenizer "tok.json"
            max_length 64
            max_new_tokens 8
            min_template_repeats 1
        }
        """)
    checked, (result,) = api.compile_paths([str(src)], tmp_path / "out")
    assert result.ok, [d.headline() for d in result.diagnostics]
    recs = read_jsonl(tmp_path / "out" / "toks" / "train.jsonl")
    assert {payload_of(r)["f"] for r in recs} == {"pear"}  # the only one-token entry
    manifest = json.loads((tmp_path / "out" / "toks" / "manifest.json").read_text())
    assert manifest["token_counting"]["exact"] is True
    assert manifest["tokens"]["train"]["completion"]["max"] == 2  # "pear" and the number


def test_budget_is_checked_with_the_real_tokenizer(tmp_path: Path) -> None:
    """The same dataset fits by word count but not by the byte bound."""
    word_tokenizer(tmp_path / "tok.json")
    text = """
        pattern p {
            let n = int 1..999
            template "please repeat the following number back to me exactly {n}"
            answer "{n}"
        }
        dataset d {
            patterns p
            split train 5
            max_length 60
            min_template_repeats 1
            TOKENIZER
        }
        """
    with_tok = write(tmp_path, text.replace("TOKENIZER", 'tokenizer "tok.json"'), "a.task")
    without = write(tmp_path, text.replace("TOKENIZER", ""), "b.task")
    assert api.compile_paths([str(with_tok)], tmp_path / "o1")[1][0].ok
    (result,) = api.compile_paths([str(without)], tmp_path / "o2")[1]
    assert [d.code for d in result.diagnostics] == ["token-budget"]
