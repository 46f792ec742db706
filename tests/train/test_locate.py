"""What `--model` names (train.locate), and `tasklang model import-gguf`'s refusals.

No model is loaded here: every refusal comes before anything slow, which is the point.
"""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tasklang.cli import main
from train.locate import LocateError, ModelSource, locate, looks_like_path, reachable


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def _one_error_line(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("tasklang: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """No offline switch, no proxy, and a hub endpoint on a closed local port."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")


def test_tiny_model_and_run_directories(tmp_path) -> None:
    assert locate("tiny") == ModelSource("tiny", "tiny", "tiny")
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    assert locate(str(model)) == ModelSource(str(model), "local", str(model))
    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"tool": "tasklang", "command": "sft"}))
    with pytest.raises(LocateError, match="a run directory without a checkpoint"):
        locate(str(run))
    (run / "checkpoint" / "config.json").write_text("{}")
    assert locate(str(run)).where == str(run / "checkpoint")


@pytest.mark.parametrize("spec", ["/nonexistent", "./nope", "~/no-such-model-here", "a/b/c"])
def test_a_missing_path_says_it_is_missing(spec: str) -> None:
    with pytest.raises(LocateError, match=f"--model {spec}: no such file or directory"):
        locate(spec)


def test_what_is_there_but_not_a_model(tmp_path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF\x03\x00\x00\x00")
    with pytest.raises(LocateError, match="a GGUF file.*tasklang model import-gguf"):
        locate(str(gguf))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(LocateError, match="a file, not a model directory"):
        locate(str(tmp_path / "notes.txt"))
    with pytest.raises(LocateError, match="neither a model directory"):
        locate(str(tmp_path))
    with pytest.raises(LocateError, match="not a hub id"):
        locate("not a hub id!")


def test_a_hub_id_offline_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(LocateError, match="not in the local cache while HF_HUB_OFFLINE"):
        locate("tasklang-tests/no-such-model")
    assert time.monotonic() - started < 2


def test_an_unreachable_hub_fails_within_the_probe(online: None) -> None:
    started = time.monotonic()
    assert not reachable()
    with pytest.raises(LocateError, match=r"http://127\.0\.0\.1:9 cannot be reached"):
        locate("tasklang-tests/no-such-model")
    assert time.monotonic() - started < 8  # two probes of at most 3 s each


def test_cli_errors_are_one_line(dataset_dir, tmp_path) -> None:
    val = str(dataset_dir / "val.jsonl")
    out = str(tmp_path / "o.jsonl")
    line = _one_error_line(_run("eval", "--model", "/nonexistent", "--data", val, "-o", out))
    assert line == "tasklang: error: --model /nonexistent: no such file or directory"
    line = _one_error_line(_run("eval", "--model", "tasklang-tests/no-such-model", "--data", val, "-o", out))
    assert "HF_HUB_OFFLINE forbids downloading" in line


@given(st.text(alphabet="ab./~-_\\", min_size=1, max_size=12))
def test_a_path_looking_spec_is_never_a_valid_hub_id(spec: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if looks_like_path(spec):
        with pytest.raises(HFValidationError):
            validate_repo_id(spec)


def test_import_gguf_refusals(tmp_path) -> None:
    gguf = pytest.importorskip("gguf")
    import numpy as np

    out = str(tmp_path / "out")
    line = _one_error_line(_run("model", "import-gguf", str(tmp_path / "none.gguf"), "-o", out))
    assert line.endswith("none.gguf: no such file")
    text = tmp_path / "model.bin"
    text.write_bytes(b"PK\x03\x04 not gguf")
    line = _one_error_line(_run("model", "import-gguf", str(text), "-o", out))
    assert line.endswith("model.bin: not a GGUF file (it does not start with the bytes 'GGUF')")
    damaged = tmp_path / "damaged.gguf"
    damaged.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    assert "a damaged GGUF file" in _one_error_line(_run("model", "import-gguf", str(damaged), "-o", out))
    other = tmp_path / "rwkv.gguf"
    writer = gguf.GGUFWriter(str(other), "rwkv9")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    line = _one_error_line(_run("model", "import-gguf", str(other), "-o", out))
    assert "architecture 'rwkv9' is not supported" in line and "llama" in line
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    line = _one_error_line(_run("model", "import-gguf", str(other), "-o", str(mine)))
    assert "a directory that import-gguf did not write" in line
    assert (mine / "notes.txt").read_text() == "keep me"
    assert not (tmp_path / "out").exists()
