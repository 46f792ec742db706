"""Label masks, the prompt-prefix check, and packing that keeps examples apart."""

from __future__ import annotations

import json
import random

import pytest
import torch

from train import data as D


def test_labels_cover_the_completion_and_eos_only(tiny, records) -> None:
    _, tok = tiny
    for record in records[:20]:
        ex = D.encode(tok, record)
        prompt = D.prompt_ids(tok, record, "chat")
        assert list(ex.input_ids[: len(prompt)]) == prompt
        assert all(label == D.IGNORE for label in ex.labels[: len(prompt)])
        completion = [label for label in ex.labels if label != D.IGNORE]
        assert completion[-1] == tok.eos_token_id
        assert tok.decode(completion[:-1]) == record["completion"][0]["content"]


def test_plain_prompt_format_for_base_models(tiny, records) -> None:
    _, tok = tiny
    ex = D.encode(tok, records[0], "plain")
    text = tok.decode(ex.input_ids)
    assert "Instruction: " in text and "\nResponse:" in text
    assert ex.labels[-1] == tok.eos_token_id


def test_a_template_that_rewrites_the_prompt_is_refused(tiny, records) -> None:
    _, tok = tiny
    # A template that renders the user turn differently once a reply follows: the tokenized
    # prompt is no longer a prefix, so the labels would be shifted. Must fail loudly.
    tok.chat_template = (
        "{% for m in messages %}{% if loop.last and m['role'] == 'assistant' %}"
        "<|user|>!{{ m['content'] }}<|eot|>{% else %}<|{{ m['role'] }}|>{{ m['content'] }}"
        "<|eot|>{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    with pytest.raises(D.DataError, match="not a prefix"):
        D.encode(tok, records[0])


def test_examples_longer_than_max_length_are_refused_not_truncated(tiny, records) -> None:
    _, tok = tiny
    with pytest.raises(D.DataError, match="refusing to truncate"):
        D.encode_all(tok, records[:4], max_length=10)


def test_packing_keeps_sequences_apart(tiny, records) -> None:
    """The loss of a packed row equals the token-weighted loss of its examples run alone:
    no example attends to its neighbour."""
    model, tok = tiny
    model.eval()
    examples = D.encode_all(tok, records[:6])
    row = [examples[0], examples[1], examples[2]]
    packed = D.packed_batch([row], tok.pad_token_id)
    with torch.no_grad():
        logits = model(**packed.model_inputs()).logits
        at = 0
        for ex in row:
            n = len(ex.input_ids)
            alone = model(input_ids=torch.tensor([ex.input_ids])).logits[0]
            assert torch.allclose(logits[0, at : at + n], alone, atol=1e-4)
            at += n


def _waste(batches: list[D.Batch]) -> float:
    return 1 - sum(b.real_tokens for b in batches) / sum(b.input_ids.numel() for b in batches)


def test_packing_reduces_padding_and_keeps_every_example_once() -> None:
    rng = random.Random(0)
    examples = [
        D.Example(tuple(range(1, n + 1)), (D.IGNORE,) * (n - 1) + (99,))
        for n in (rng.randint(10, 200) for _ in range(64))
    ]
    plain = list(D.batches(examples, 8, 0, random.Random(0)))
    packed = list(D.batches(examples, 8, 0, random.Random(0), packing=True))
    assert _waste(packed) < _waste(plain) / 3
    count = lambda bs: sum(int((b.labels == 99).sum()) for b in bs)  # noqa: E731
    assert count(packed) == count(plain) == len(examples)


def test_packing_real_records(tiny, records) -> None:
    _, tok = tiny
    examples = D.encode_all(tok, records)
    plain = list(D.batches(examples, 8, tok.pad_token_id, random.Random(0)))
    packed = list(D.batches(examples, 8, tok.pad_token_id, random.Random(0), packing=True))
    assert _waste(packed) <= _waste(plain)
    count = lambda bs: sum(int((b.labels == tok.eos_token_id).sum()) for b in bs)  # noqa: E731
    assert count(packed) == count(plain) == len(examples)


def test_read_records_reports_the_bad_line(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": []}\nnot json\n')
    with pytest.raises(D.DataError, match=r"bad.jsonl:2: not JSON"):
        D.read_records(path)


def test_training_prompts_may_come_from_another_split_but_never_val(tmp_path) -> None:
    from train.data import DataError, load_splits

    def write(name: str, ids: list[str]) -> None:
        rows = [{"id": i, "prompt": [{"role": "user", "content": i}],
                 "completion": [{"role": "assistant", "content": "x"}]} for i in ids]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    write("train", ["t1", "t2"])
    write("val", ["v1"])
    write("rl", ["r1", "r2", "r3"])
    train, val = load_splits(tmp_path)
    assert [r["id"] for r in train] == ["t1", "t2"] and [r["id"] for r in val] == ["v1"]
    prompts, val = load_splits(tmp_path, "rl")
    assert [r["id"] for r in prompts] == ["r1", "r2", "r3"] and [r["id"] for r in val] == ["v1"]
    with pytest.raises(DataError, match="val is what checkpoints are chosen on"):
        load_splits(tmp_path, "val")
    with pytest.raises(DataError, match="no test.jsonl"):
        load_splits(tmp_path, "test")
    (tmp_path / "val.jsonl").unlink()  # an import without --split-val: train.jsonl alone
    train, val = load_splits(tmp_path)
    assert [r["id"] for r in train] == ["t1", "t2"] and val == []
    (tmp_path / "train.jsonl").unlink()  # not a dataset directory at all: still refused
    with pytest.raises(DataError, match="no train.jsonl"):
        load_splits(tmp_path)


def test_budget_comes_from_the_user_the_manifest_or_the_default(dataset_dir, tmp_path) -> None:
    manifest = dataset_dir / "manifest.json"
    assert D.budget(None, dataset_dir) == D.Budget(400, f"{manifest} settings.max_new_tokens")
    assert D.budget(None, dataset_dir / "val.jsonl").tokens == 400  # the manifest beside the file
    assert D.budget(12, dataset_dir) == D.Budget(12, "--max-new-tokens")
    assert D.generation_budget(None, dataset_dir) == 400
    lone = tmp_path / "lone.jsonl"
    lone.write_text("")
    got = D.budget(None, lone)
    assert got.tokens == D.DEFAULT_MAX_NEW_TOKENS and "no manifest" in got.source
    # An imported dataset (tasklang import) declares no budget; its longest completion per split does.
    imported = tmp_path / "imported"
    imported.mkdir()
    (imported / "manifest.json").write_text(json.dumps({
        "settings": {"seed": 0},
        "token_counting": {"exact": False},
        "tokens": {"val": {"completion": {"max": 200}}, "test": {"completion": {"max": 80}}},
    }))
    assert D.budget(None, imported, "val").tokens == 201  # the longest completion and its eos
    assert D.budget(None, imported, "test").tokens == 81
    assert "tokens.test.completion.max" in D.budget(None, imported, "test").source


def test_eval_split_defaults_to_test_then_val(dataset_dir, tmp_path) -> None:
    assert D.eval_split(dataset_dir, None) == (dataset_dir / "val.jsonl", "val")
    assert D.eval_split(dataset_dir, "train") == (dataset_dir / "train.jsonl", "train")
    with_test = tmp_path / "ds"
    with_test.mkdir()
    for split in ("val", "test"):
        (with_test / f"{split}.jsonl").write_text("")
    assert D.eval_split(with_test, None) == (with_test / "test.jsonl", "test")
    assert D.eval_split(dataset_dir / "val.jsonl", None) == (dataset_dir / "val.jsonl", None)
    with pytest.raises(D.DataError, match="not of a file"):
        D.eval_split(dataset_dir / "val.jsonl", "val")
    with pytest.raises(D.DataError, match="its splits: train, val"):
        D.eval_split(dataset_dir, "rl")
