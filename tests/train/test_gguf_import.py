"""`tasklang model import-gguf` on a tiny Llama GGUF file written here (seconds, no download).

The file is made with the gguf package's own writer: a byte-level BPE vocabulary, random
float32 weights from a seed, and a ChatML template. What the import writes must be a standard
transformers directory whose logits are exactly those of transformers' own GGUF loader, and
OUT must be replaced whole (tests/train/test_smollm2.py does the same on the real model).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tasklang.cli import main

gguf = pytest.importorskip("gguf", reason="the train extra (gguf) is not installed")
torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

REPO = Path(__file__).resolve().parents[2]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
PROBE = "<|im_start|>user\nHow many pens are left? 42<|im_end|>\n<|im_start|>assistant\n"


def write_tiny_llama(path: Path, seed: int = 0, hidden: int = 16, ffn: int = 32, heads: int = 2,
                     scores: bool = True) -> Path:
    """A one-layer Llama as GGUF: what llama.cpp's converter writes, at toy size (`scores=False`:
    without the token scores that transformers' tokenizer converter reads)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    rng = np.random.default_rng(seed)
    tokens = SPECIALS + list(bytes_to_unicode().values())
    w = gguf.GGUFWriter(str(path), "llama")
    for add, value in ((w.add_block_count, 1), (w.add_context_length, 64), (w.add_embedding_length, hidden),
                       (w.add_feed_forward_length, ffn), (w.add_head_count, heads),
                       (w.add_head_count_kv, heads), (w.add_rope_dimension_count, hidden // heads),
                       (w.add_rope_freq_base, 10000.0), (w.add_layer_norm_rms_eps, 1e-5),
                       (w.add_vocab_size, len(tokens)), (w.add_tokenizer_model, "gpt2"),
                       (w.add_tokenizer_pre, "default"), (w.add_token_list, tokens),
                       (w.add_token_types, [3] * len(SPECIALS) + [1] * (len(tokens) - len(SPECIALS))),
                       (w.add_token_merges, []), (w.add_bos_token_id, 1), (w.add_eos_token_id, 2),
                       (w.add_unk_token_id, 0), (w.add_chat_template, CHATML)):
        add(value)
    if scores:
        w.add_token_scores([0.0] * len(tokens))

    def weight(name: str, *shape: int) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * 0.1).astype(np.float32))

    weight("token_embd.weight", len(tokens), hidden)
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        weight(f"blk.0.{name}.weight", hidden, hidden)
    weight("blk.0.ffn_gate.weight", ffn, hidden)
    weight("blk.0.ffn_up.weight", ffn, hidden)
    weight("blk.0.ffn_down.weight", hidden, ffn)
    for name in ("blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "output_norm.weight"):
        w.add_tensor(name, np.ones(hidden, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _logits(model, tokenizer) -> torch.Tensor:
    ids = tokenizer(PROBE, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model(input_ids=ids).logits


def _import(source: Path, out: Path):
    return CliRunner().invoke(main, ["model", "import-gguf", str(source), "-o", str(out)])


def test_the_import_is_a_standard_directory_with_the_loaders_logits(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = write_tiny_llama(tmp_path / "tiny.gguf")
    out = tmp_path / "models" / "tiny"
    result = _import(source, out)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["architecture"] == "llama" and summary["chat_template"] is True
    assert summary["vocab_size"] == 259 and summary["source"] == "tiny.gguf"
    config = json.loads((out / "config.json").read_text())
    assert "quantization_config" not in config and config["tie_word_embeddings"] is True
    assert json.loads((out / "tasklang_import.json").read_text())["sha256"] == summary["sha256"]
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert sum(p.numel() for p in model.parameters()) == summary["parameters"]
    reference = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    assert torch.equal(_logits(model, tokenizer), _logits(reference, tokenizer))
    assert tokenizer.chat_template == CHATML
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny"]  # no staging or lock left


def test_reimport_replaces_an_earlier_import_and_models_load_reads_it(tmp_path: Path) -> None:
    from train.models import load

    out = tmp_path / "tiny"
    assert _import(write_tiny_llama(tmp_path / "a.gguf", seed=1), out).exit_code == 0
    (out / "stale.txt").write_text("from the first import")
    first, _ = load(str(out))
    result = _import(write_tiny_llama(tmp_path / "b.gguf", seed=2), out)
    assert result.exit_code == 0, result.output
    assert not (out / "stale.txt").exists()
    second, tokenizer = load(str(out))  # tasklang's loader: pad added, left padding
    assert tokenizer.pad_token_id != tokenizer.eos_token_id and tokenizer.padding_side == "left"
    assert not torch.equal(_logits(first, tokenizer), _logits(second, tokenizer))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGSTOP/SIGKILL tested on Linux")
def test_a_killed_import_leaves_the_old_model_whole(tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    assert _import(write_tiny_llama(tmp_path / "a.gguf", seed=1), out).exit_code == 0
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLANG_TEST_")}
    env.update(PYTHONPATH=str(REPO), TASKLANG_TEST_PAUSE_AT="before-exchange")
    args = [sys.executable, "-m", "tasklang.cli", "model", "import-gguf",
            str(write_tiny_llama(tmp_path / "b.gguf", seed=2)), "-o", str(out)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until it stopped itself just before the switch
        pid, status = os.waitpid(proc.pid, os.WNOHANG | os.WUNTRACED)
        assert not (pid and not os.WIFSTOPPED(status)), "the import ended before the switch"
        if pid:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old
    assert _import(tmp_path / "b.gguf", out).exit_code == 0  # the next run cleans up after it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gguf", "b.gguf", "tiny"]


def test_a_gguf_file_without_what_the_loader_needs_is_one_line(tmp_path: Path) -> None:
    source = write_tiny_llama(tmp_path / "noscores.gguf", scores=False)
    result = _import(source, tmp_path / "out")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"tasklang: error: {source}: cannot load it: it lacks the entry 'scores'")
    assert not (tmp_path / "out").exists()


def test_a_mistake_is_found_before_the_import_starts(tmp_path: Path) -> None:
    source = write_tiny_llama(tmp_path / "tiny.gguf")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for src, out, message in (
        (tmp_path / "missing.gguf", tmp_path / "o", f"{tmp_path / 'missing.gguf'}: no such file"),
        (source, blocker / "model", f"cannot write {blocker / 'model'}: Not a directory"),
    ):
        result = _import(src, out)
        assert result.exit_code == 1, result.output
        assert result.stderr == f"tasklang: error: {message}\n"  # no "importing ..." line first


def test_the_loaders_own_bar_stays_out_of_logs(tmp_path: Path, monkeypatch) -> None:
    # transformers' GGUF loader draws a tqdm bar of its own; with stderr not a terminal (here,
    # CliRunner's) it used to fill logs with carriage returns. tasklang's own line stays.
    source = write_tiny_llama(tmp_path / "tiny.gguf")
    monkeypatch.delenv("TASKLANG_PROGRESS", raising=False)
    result = _import(source, tmp_path / "quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"importing {source}") and "\r" not in result.stderr
    assert "Converting and de-quantizing" not in result.stderr
    monkeypatch.setenv("TASKLANG_PROGRESS", "1")  # where tasklang's bars are drawn, the loader's is too
    result = _import(source, tmp_path / "shown")
    assert result.exit_code == 0 and "Converting and de-quantizing GGUF tensors" in result.stderr
    import transformers.modeling_gguf_pytorch_utils as loader
    from tqdm.auto import tqdm

    assert loader.tqdm is tqdm  # put back after each import
