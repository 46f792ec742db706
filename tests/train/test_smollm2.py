"""A real pretrained model through tasklang: SmolLM2-135M-Instruct, imported from its GGUF file.

The file is found by tests/smollm2_files.py (skip without it; a failure under
TASKLANG_REQUIRE_SMOLLM2=1, as in CI). It is imported once per session (`tasklang model
import-gguf`, about 30 s); every test then loads the model directory it wrote. The whole
file takes a few minutes on a CPU, so every test is marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tasklang.cli import main
from tests.smollm2_files import require

pytestmark = pytest.mark.slow

# What SmolLM2's own chat template (ChatML) renders for a system + user prompt, written out
# by hand: the tokenizer must produce exactly these ids, not a template of tasklang's.
CHATML = "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
PROBE = "<|im_start|>user\nWhat is 12 times 7?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="session")
def gguf_file() -> Path:
    return require()


@pytest.fixture(scope="session")
def smollm2_dir(gguf_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("smollm2") / "SmolLM2-135M-Instruct"
    result = CliRunner().invoke(main, ["model", "import-gguf", str(gguf_file), "-o", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["architecture"] == "llama" and summary["chat_template"] is True
    return out


@pytest.fixture(scope="session")
def short_records(records: list[dict]) -> list[dict]:
    """A few training records with the shortest completions (CPU time is per token)."""
    return sorted(records, key=lambda r: len(r["completion"][-1]["content"]))[:16]


def _logits(model, tokenizer, text: str = PROBE) -> torch.Tensor:
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits[0]


def test_import_writes_a_standard_directory(smollm2_dir) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    names = {p.name for p in smollm2_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= names
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    # Plain from_pretrained, no tasklang code: a standard directory. (That its logits are the
    # GGUF loader's exactly is checked on a tiny GGUF file in test_gguf_import.py: a second
    # 20 s load of this one would add little.)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert model.config.tie_word_embeddings and tokenizer.eos_token == "<|im_end|>"
    last = _logits(model, tokenizer, "<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n")[-1]
    top5 = {tokenizer.decode([i]).strip() for i in last.topk(5).indices.tolist()}
    assert "Hello" in top5, top5  # a trained model, not noise (measured: I, Hello, ", You, The)


def test_the_models_own_chat_template_is_applied(gguf_file, smollm2_dir, short_records) -> None:
    from gguf import GGUFReader

    from train import data as D
    from train.models import load

    _, tokenizer = load(str(smollm2_dir))
    own = GGUFReader(gguf_file).fields["tokenizer.chat_template"].contents()
    assert tokenizer.chat_template == own
    for record in short_records[:4]:
        system, user = (m["content"] for m in record["prompt"])
        text = CHATML.format(system=system, user=user)
        expected = tokenizer(text, add_special_tokens=False)["input_ids"]
        rendered = tokenizer.apply_chat_template(record["prompt"], add_generation_prompt=True, tokenize=False)
        assert rendered == text
        assert D.prompt_ids(tokenizer, record, "chat") == expected
        example = D.encode(tokenizer, record, "chat")  # the prompt-prefix and eos checks pass
        last = max(i for i, label in enumerate(example.labels) if label != D.IGNORE)
        assert example.labels[last] == tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_eval_batched_equals_one_by_one(smollm2_dir, short_records, tmp_path) -> None:
    data = tmp_path / "few.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in short_records[:4]))
    outputs = {}
    for batch in ("4", "1"):
        out = tmp_path / f"b{batch}.jsonl"
        args = ["eval", "--model", str(smollm2_dir), "--data", str(data), "-o", str(out),
                "--batch-size", batch, "--max-new-tokens", "20", "--format", "json"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout.strip().splitlines()[-1])["n"] == 4
        outputs[batch] = [json.loads(line)["output"] for line in out.read_text().splitlines()]
    assert outputs["4"] == outputs["1"]
    assert all(outputs["1"])  # it answered something


@pytest.mark.parametrize("mode, lr", [("lora", 2e-3), ("last-n", 2e-4)])
def test_a_few_steps_lower_the_loss_and_survive_save_and_reload(
    smollm2_dir, short_records, tmp_path, mode, lr
) -> None:
    from train import data as D
    from train.models import load
    from train.modes import ModeSpec, apply_mode
    from train.sft import Schedule, Trainer, save_checkpoint, val_loss

    torch.manual_seed(0)  # LoRA's A matrices start random
    model, tokenizer = load(str(smollm2_dir))
    model = apply_mode(model, ModeSpec(mode, last_n=2, lora_r=8, lora_alpha=16))
    pad = tokenizer.pad_token_id
    train = D.encode_all(tokenizer, short_records[:8], "chat")
    held_out = D.encode_all(tokenizer, short_records[8:12], "chat")
    before = val_loss(model, held_out, pad)
    trainer = Trainer(model, tokenizer, Schedule(lr=lr, batch_size=4, warmup=0.0), total_steps=4)
    for step in range(4):
        trainer.train_step(D.pad_batch(train[(step % 2) * 4 : (step % 2) * 4 + 4], pad))
    after = val_loss(model, held_out, pad)
    # Measured (seed 0): lora 3.106 -> 1.249, last-n 3.106 -> 2.335.
    assert after < before - 0.3, (before, after)

    save_checkpoint(model, tokenizer, tmp_path)  # LoRA merged into the saved weights
    reloaded, reloaded_tokenizer = load(str(tmp_path / "checkpoint"))
    assert len(reloaded_tokenizer) == len(tokenizer)
    assert torch.allclose(_logits(model, tokenizer), _logits(reloaded, tokenizer), atol=1e-4, rtol=1e-4)


def test_train_sft_runs_on_the_imported_model(smollm2_dir, short_records, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in short_records[:4]))
    (data / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in short_records[4:6]))
    run = tmp_path / "run"
    args = ["train", "sft", "--model", str(smollm2_dir), "--data", str(data), "-o", str(run),
            "--mode", "last-n", "--last-n", "1", "--steps", "2", "--batch-size", "2", "--lr", "1e-4",
            "--eval-every", "2", "--val-n", "2", "--max-new-tokens", "8"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("val_loss" in e and "val_accuracy" in e for e in events)
    assert json.loads((run / "checkpoint" / "config.json").read_text())["num_hidden_layers"] == 30

