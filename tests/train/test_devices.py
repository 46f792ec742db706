"""`--device` / `--dtype`: resolution, training and eval on the placement, and what the logs say."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tasklang.cli import main
from train import data as D
from train.devices import DEVICES, DTYPES, DeviceError, Placement, bf16_native, pick_dtype, resolve
from train.models import TinySpec
from train.sft import Schedule, SFTConfig, Trainer, Validation, run_sft

from .conftest import TINY

NO_CUDA = not torch.cuda.is_available()


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from((*DEVICES, "cuda:0", "cuda:7", "tpu", "")), st.sampled_from((*DTYPES, "fp8", "")))
def test_resolve_gives_a_concrete_placement_or_says_which_option(device: str, dtype: str) -> None:
    try:
        placement = resolve(device, dtype)
    except DeviceError as err:
        assert str(err).startswith(("--device", "--dtype")) and "\n" not in str(err)
        return
    assert placement.kind in ("cpu", "cuda", "mps") and placement.dtype in ("bf16", "fp16", "fp32")
    if device not in ("auto", ""):
        assert placement.device == device
    if dtype != "auto":
        assert placement.dtype == dtype


def test_auto_on_the_cpu_is_fp32_and_fp16_is_refused_there() -> None:
    assert resolve("cpu", "auto") == Placement("cpu", "fp32")
    if NO_CUDA:
        assert resolve("auto", "auto").kind in ("cpu", "mps")
    with pytest.raises(DeviceError, match="fp16 needs an accelerator"):
        resolve("cpu", "fp16")


def test_bf16_is_native_from_ampere_and_on_rocm() -> None:
    assert [bf16_native(major) for major in (6, 7, 8, 9, 10)] == [False, False, True, True, True]
    assert bf16_native(7, rocm=True)


@given(st.sampled_from(DTYPES), st.sampled_from(("cpu", "cuda", "mps")), st.booleans())
def test_the_dtype_follows_the_device_and_its_own_bf16(dtype: str, kind: str, bf16: bool) -> None:
    try:
        chosen = pick_dtype(dtype, kind, bf16, "cuda:1 (a GPU)")
    except DeviceError as err:
        assert (dtype, kind) == ("fp16", "cpu") or (dtype, kind, bf16) == ("bf16", "cuda", False)
        assert "\n" not in str(err) and ("cuda:1 (a GPU) has no native bf16" in str(err)) == (kind == "cuda")
        return
    if dtype != "auto":
        assert chosen == dtype
    else:  # auto: bf16 exactly where CUDA has it natively, fp32 everywhere else
        assert chosen == ("bf16" if kind == "cuda" and bf16 else "fp32")


def test_resolve_asks_the_device_it_was_given_not_the_current_one(monkeypatch) -> None:
    """Two GPUs, cuda:0 a Turing (7.5) and cuda:1 a Hopper (9.0), cuda:0 current: cuda:1 gets
    bf16 and cuda:0 does not (torch.cuda.is_bf16_supported() would answer for cuda:0 both times).
    No GPU here, so torch's device queries answer for the two; resolve's own code runs."""
    capability = {0: (7, 5), 1: (9, 0)}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i: capability[i])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: ["T4", "H100"][i])
    monkeypatch.setattr(torch.version, "hip", None)
    assert resolve("cuda:1") == Placement("cuda:1", "bf16")
    assert resolve("cuda") == Placement("cuda", "fp32") and resolve("cuda:0") == Placement("cuda:0", "fp32")
    with pytest.raises(DeviceError, match=r"cuda:0 \(T4, compute capability 7\.5\) has no native bf16"):
        resolve("cuda:0", "bf16")
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)  # torch.cuda.set_device(1)
    assert resolve("cuda") == Placement("cuda", "bf16")


def test_a_malformed_device_is_named_before_torch_sees_it() -> None:
    # "cuda:x" used to pass the check and reach int() on a machine with a GPU: a traceback
    for bad in ("cuda:x", "cuda:", "cuda:-1", "cuda:0:1", "CPU", " cpu", "mps:0"):
        with pytest.raises(DeviceError, match=r"^--device '.*': expected one of auto, cpu, cuda, mps"):
            resolve(bad)


def test_the_loss_scaler_is_on_for_fp16_only() -> None:
    assert not Placement("cpu", "fp32").grad_scaler().is_enabled()
    assert not Placement("cpu", "bf16").grad_scaler().is_enabled()
    scaler = Placement("cpu", "fp16").grad_scaler()  # the CPU has fp16 autocast kernels too
    assert scaler.is_enabled() and scaler.get_scale() > 1


@pytest.mark.skipif(not NO_CUDA, reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_line_and_exit_2(dataset_dir, tmp_path) -> None:
    with pytest.raises(DeviceError, match="use --device cpu"):
        resolve("cuda", "auto")
    for args in (("--device", "cuda"), ("--device", "tpu"), ("--device", "cpu", "--dtype", "fp16")):
        for command in (("train", "sft"), ("train", "rl"), ("train", "loop"), ("eval",)):
            out = ("-o", str(tmp_path / ("o.jsonl" if command == ("eval",) else "run")))
            data = dataset_dir / "val.jsonl" if command == ("eval",) else dataset_dir
            result = _run(*command, "--model", "tiny", "--data", str(data), *out, *args)
            assert result.exit_code == 2, (command, args, result.output)
            lines = result.output.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("tasklang: error: --d"), result.output


def test_bf16_autocast_trains_on_the_cpu_with_fp32_weights(tiny, records) -> None:
    model, tok = tiny
    examples = D.encode_all(tok, records[:32])
    batch = D.pad_batch(examples, tok.pad_token_id)
    trainer = Trainer(model, tok, Schedule(lr=3e-3, warmup=0.0), 8, resolve("cpu", "bf16"))
    losses = [trainer.train_step(batch) for _ in range(8)]
    assert losses[-1] < losses[0]
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast, not cast


def test_the_run_log_and_summaries_state_device_dtype_and_peak_memory(dataset_dir, tmp_path) -> None:
    out = tmp_path / "run"
    cfg = SFTConfig(
        model="tiny",
        data=str(dataset_dir),
        out=str(out),
        schedule=Schedule(lr=3e-3, batch_size=8, steps=4, warmup=0.0),
        validation=Validation(every=4, n=2, max_new_tokens=4),
        tiny=TinySpec(**TINY),
        device="cpu",
        dtype="bf16",
    )
    summary = run_sft(cfg)
    assert summary["device"] == "cpu" and summary["dtype"] == "bf16" and summary["peak_rss_bytes"] > 2**20
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert first["event"] == "start" and first["device"] == "cpu" and first["dtype"] == "bf16"
    config = json.loads((out / "config.json").read_text())
    assert config["placement"] == {"device": "cpu", "dtype": "bf16"}
    result = _run(
        "eval", "--model", str(out), "--data", str(dataset_dir / "val.jsonl"),
        "-o", str(tmp_path / "e.jsonl"), "--max-new-tokens", "4", "-n", "3",
        "--device", "cpu", "--dtype", "bf16",
    )
    assert result.exit_code == 0, result.output
    assert "on cpu in bf16, peak process RSS memory" in result.output
    saved = json.loads((tmp_path / "e.jsonl.summary.json").read_text())
    assert saved["device"] == "cpu" and saved["dtype"] == "bf16" and saved["peak_rss_bytes"] > 2**20


def test_a_saved_model_loads_in_the_dtype_asked_and_fp32_by_default(tiny, tmp_path) -> None:
    """Evaluation loads weights in its placement's dtype (no fp32 copy of a bf16 eval's
    model); training's default stays fp32."""
    from train.models import load, save

    model, tokenizer = tiny
    save(model, tokenizer, tmp_path / "m")
    bf16, _ = load(str(tmp_path / "m"), dtype=torch.bfloat16)
    fp32, _ = load(str(tmp_path / "m"))
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in fp32.parameters()} == {torch.float32}
    for a, b in zip(bf16.parameters(), fp32.parameters(), strict=True):
        assert torch.equal(a, b.to(torch.bfloat16))
