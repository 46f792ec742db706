"""Several processes: who this process is, how work is split and gathered, and the launcher.

The one home for the rules of a multi-process run. A run started by `accelerate launch` (or by
`--num-processes N`, which starts that command) has WORLD_SIZE > 1 in its environment; then
an `accelerate.Accelerator` wraps the model (DDP, or FSDP/DeepSpeed when the accelerate config
asks for them) and every process takes its share:
- training: every process builds the same global batch (same seed) and takes the rows
  `rank::world`; each computes the sum of its token losses divided by the GLOBAL token count,
  times world (DDP averages gradients over processes), so N processes take exactly the step
  one process takes on the whole batch, up to the order of float additions;
- evaluation: prompts are dealt `rank::world`, answered, and gathered back in their order;
- only the main process writes the run directory, logs, checkpoints and output files.
One process (no WORLD_SIZE) uses no accelerate at all: the plain loop, as before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .devices import DeviceError, Placement

T = TypeVar("T")


@dataclass(frozen=True)
class Engine:
    rank: int = 0
    world: int = 1
    accelerator: Any = None  # accelerate.Accelerator when world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def prepare(self, model: Any, optimizer: Any) -> tuple[Any, Any]:
        """The model that the training forward pass runs (DDP-wrapped when distributed) and
        the optimizer to step. The unwrapped model stays the one to save and generate with."""
        if not self.distributed:
            return model, optimizer
        wrapped, prepared = self.accelerator.prepare(model, optimizer)
        return wrapped, prepared

    def backward(self, loss: Any) -> None:
        if self.distributed:
            self.accelerator.backward(loss)
        else:
            loss.backward()

    def shard(self, items: Sequence[T]) -> list[T]:
        """This process's share: every world-th item from its rank on."""
        return list(items[self.rank :: self.world])

    def gather(self, mine: Sequence[T], total: int) -> list[T]:
        """Every process's share (from `shard`) back in the original order, on every process."""
        if not self.distributed:
            return list(mine)
        import torch.distributed as dist

        parts: list[Any] = [None] * self.world
        dist.all_gather_object(parts, list(mine))
        return interleave(parts, total)

    def sum(self, values: Sequence[float], placement: Placement) -> list[float]:
        """Elementwise sums over processes (float64, so token counts stay exact)."""
        if not self.distributed:
            return list(values)
        import torch
        import torch.distributed as dist

        t = torch.tensor(list(values), dtype=torch.float64, device=placement.torch_device())
        dist.all_reduce(t)
        return [float(v) for v in t.tolist()]

    def agree(self, flag: bool) -> bool:
        """The main process's decision, on every process (a time limit read by each process's
        own clock would stop them at different steps, and a collective would hang)."""
        if not self.distributed:
            return flag
        import torch.distributed as dist

        box = [flag]
        dist.broadcast_object_list(box, src=0)
        return bool(box[0])

    def barrier(self) -> None:
        if self.distributed:
            self.accelerator.wait_for_everyone()


LOCAL = Engine()


def interleave(parts: Sequence[Sequence[T]], total: int) -> list[T]:
    """The inverse of dealing `total` items `rank::world` to len(parts) processes."""
    out: list[Any] = [None] * total
    for rank, part in enumerate(parts):
        out[rank :: len(parts)] = part
    return out


def launched() -> bool:
    """Whether this process is one of several started by accelerate launch or torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def main_process() -> bool:
    """Whether this process is the one that writes and prints (rank 0, or the only one)."""
    return int(os.environ.get("RANK", "0")) == 0


def start(placement: Placement) -> tuple[Engine, Placement]:
    """The engine of this process, and the placement on its own device (cuda:LOCAL_RANK)."""
    if not launched():
        return LOCAL, placement
    if placement.kind == "mps":
        raise DeviceError("--device mps: several processes need CUDA or the CPU")
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=placement.kind == "cpu")
    device = accelerator.device
    name = "cpu" if device.type == "cpu" else f"{device.type}:{device.index or 0}"
    return Engine(accelerator.process_index, accelerator.num_processes, accelerator), Placement(
        name, placement.dtype
    )


def launch_command(module_args: Sequence[str], processes: int, config: str | None) -> list[str]:
    """`accelerate launch` of `python -m tasklang.cli ARGS` in `processes` processes. Without
    a config file, plain DDP (gloo on the CPU, nccl on CUDA: accelerate picks the backend);
    with one, whatever it says (FSDP, DeepSpeed, several machines)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes)]
    if config:
        cmd += ["--config_file", config]
    else:
        cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    return [*cmd, "-m", "tasklang.cli", *module_args]


def launch(module_args: Sequence[str], processes: int, config: str | None) -> int:
    """Run the command in several processes; their exit status (0 when every one succeeded)."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.call(launch_command(module_args, processes, config), env=env)
