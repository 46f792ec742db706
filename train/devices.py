"""Where a run computes and in what precision: `--device` and `--dtype`, resolved once.

The one home for the rule "auto picks the accelerator when there is one, bf16 on CUDA where
it is supported, fp32 on the CPU". Training keeps trainable weights in fp32 and computes
under autocast in the chosen dtype (bf16 weights would lose small updates); evaluation
casts the whole model, since nothing is updated. Importing this module imports no torch,
so the click layer can offer the choices without the train extra.
"""

from __future__ import annotations

import re
import resource
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "bf16", "fp16", "fp32")
_TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
_DEVICE = re.compile(r"auto|cpu|cuda|mps|cuda:\d+")


class DeviceError(Exception):
    """A device or precision this machine cannot give; the message says why and what to pass."""


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu", "cuda", "cuda:1", "mps"
    dtype: str  # "bf16", "fp16", "fp32"

    @property
    def kind(self) -> str:
        return self.device.split(":")[0]

    def torch_device(self) -> Any:
        import torch

        return torch.device(self.device)

    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, _TORCH_DTYPES[self.dtype])

    def autocast(self) -> Any:
        """Mixed precision for a training step; a no-op in fp32."""
        if self.dtype == "fp32":
            return nullcontext()
        import torch

        return torch.autocast(device_type=self.kind, dtype=self.torch_dtype())

    def grad_scaler(self) -> Any:
        """The loss scaler a training loop keeps: fp16's narrow range flushes small gradients
        to zero, so fp16 scales the loss up and the gradients back down before clipping and
        stepping; bf16 and fp32 have the range, and get a disabled scaler (a no-op)."""
        import torch

        return torch.amp.GradScaler(self.kind, enabled=self.dtype == "fp16")

    def describe(self) -> dict[str, Any]:
        """What the run log states: the device (with its name on CUDA) and the dtype."""
        out: dict[str, Any] = {"device": self.device, "dtype": self.dtype}
        if self.kind == "cuda":
            import torch

            out["device_name"] = torch.cuda.get_device_name(self.torch_device())
        return out


CPU = Placement("cpu", "fp32")  # what functions called without a placement compute on


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve(device: str = "auto", dtype: str = "auto") -> Placement:
    """The placement `--device` and `--dtype` ask for, or DeviceError when this machine lacks it."""
    import torch

    if not _DEVICE.fullmatch(device):  # before torch sees it: "cuda:x" must not be a traceback
        raise DeviceError(f"--device {device!r}: expected one of {', '.join(DEVICES)} (or cuda:N)")
    if dtype not in DTYPES:
        raise DeviceError(f"--dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    if device == "auto":
        device = "cuda" if _cuda_available() else "mps" if _mps_available() else "cpu"
    kind = device.split(":")[0]
    if kind == "cuda":
        if not _cuda_available():
            built = "built without CUDA" if torch.version.cuda is None else "sees no GPU"
            raise DeviceError(
                f"--device {device}: this torch ({torch.__version__}) {built}; use --device cpu"
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise DeviceError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    if kind == "mps" and not _mps_available():
        raise DeviceError("--device mps: this machine has no MPS backend; use --device cpu")
    bf16, name = False, device
    if kind == "cuda":
        # Asked of device N itself: torch.cuda.is_bf16_supported() asks about the current
        # device (cuda:0 unless set), and by default counts slow emulation as support.
        index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        bf16 = bf16_native(major, torch.version.hip is not None)
        name = f"{device} ({torch.cuda.get_device_name(index)}, compute capability {major}.{minor})"
    return Placement(device, pick_dtype(dtype, kind, bf16, name))


def bf16_native(major: int, rocm: bool = False) -> bool:
    """Whether a CUDA device of compute capability `major`.x computes in bf16 natively: Ampere
    (8.0) and later; every ROCm GPU torch runs on (torch's own rule)."""
    return rocm or major >= 8


def pick_dtype(dtype: str, kind: str, bf16: bool, name: str = "") -> str:
    """The precision `--dtype` resolves to on a device of `kind` whose bf16 support is `bf16`
    (only CUDA's is asked; `name` says which device a refusal is about)."""
    if dtype == "auto":
        return "bf16" if kind == "cuda" and bf16 else "fp32"
    if dtype == "fp16" and kind == "cpu":
        raise DeviceError(
            "--dtype fp16 needs an accelerator (CPU kernels are fp32 or bf16); use bf16 or fp32"
        )
    if dtype == "bf16" and kind == "cuda" and not bf16:
        raise DeviceError(f"--dtype bf16: {name} has no native bf16 (8.0 and later); use fp16 or fp32")
    return dtype


def reset_peak_memory(placement: Placement) -> None:
    if placement.kind == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats(placement.torch_device())


def peak_memory(placement: Placement) -> dict[str, int]:
    """Peak memory in bytes: the accelerator's allocator peak, and the process's peak RSS."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"peak_rss_bytes": rss if sys.platform == "darwin" else rss * 1024}
    if placement.kind == "cuda":
        import torch

        out["peak_device_bytes"] = int(torch.cuda.max_memory_allocated(placement.torch_device()))
    return out


def place(model: Any, placement: Placement, train: bool) -> Any:
    """The model moved to the placement: fp32 weights for training (autocast computes in the
    placement's dtype), the placement's dtype for inference, where nothing is updated."""
    if not train:  # cast before the move: a bf16 copy on the GPU, never an fp32 one first
        model.to(placement.torch_dtype())
    model.to(placement.torch_device())
    return model
