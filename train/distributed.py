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

Sharded engines (FSDP2, DeepSpeed ZeRO-3) hold a slice of every parameter in each process, so
every forward pass is a collective that all processes must join. Three more rules follow:
- equal work: evaluation shares are padded with stand-ins (copies of an item) to the same
  length on every process, and `gather` drops them, so the gathered list is the one DDP or one
  process gives; generation runs with `synced_gpus` (a process that has finished keeps joining
  the forward passes of the others);
- weights are gathered by every process (a collective) and written by rank 0;
- on the CPU, accelerate turns an FSDP launch into plain DDP (it shards only on accelerators);
  `start` honours the request, so an FSDP config can be tried on a CPU box with gloo before
  anyone rents GPUs.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .devices import DeviceError, Placement

T = TypeVar("T")

KINDS = ("local", "ddp", "fsdp", "deepspeed")


class EngineError(DeviceError):
    """A multi-process setup this machine or this trainer cannot run; one line, exit 2."""


@dataclass(frozen=True)
class Engine:
    rank: int = 0
    world: int = 1
    accelerator: Any = None  # accelerate.Accelerator when world > 1
    kind: str = "local"  # one of KINDS
    sharded: bool = False  # parameters split over processes (FSDP, ZeRO-3): every forward is collective

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def prepare(self, model: Any, optimizer: Any) -> tuple[Any, Any]:
        """The model that the training forward pass runs (DDP-wrapped when distributed) and
        the optimizer to step. The unwrapped model stays the one to save and generate with
        (FSDP2 shards it in place: the same object, its parameters now DTensors)."""
        if not self.distributed:
            return model, optimizer
        wrapped, prepared = self.accelerator.prepare(model, optimizer)
        return wrapped, prepared

    def prepare_for_inference(self, model: Any) -> Any:
        """The model evaluation generates with: sharded under FSDP/ZeRO-3 (the point of them:
        a model too big for one device), untouched otherwise (DDP would only add a wrapper)."""
        if not self.sharded:
            return model
        return self.accelerator.unwrap_model(self.accelerator.prepare(model))

    def full_weights(self, wrapped: Any) -> dict[str, Any] | None:
        """The whole state dict, gathered by every process (a collective) and held by rank 0;
        None when not sharded (the model's own parameters are whole, save it as it is)."""
        if not self.sharded:
            return None
        if self.kind == "deepspeed":  # ZeRO-3 gathers through its engine
            return self._owned(self.accelerator.get_state_dict(wrapped))
        # torch's own full state dict: accelerate 1.16's get_state_dict hands back DTensor
        # slices on the CPU, which safetensors cannot write.
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        return self._owned(get_model_state_dict(self.accelerator.unwrap_model(wrapped), options=options))

    def _owned(self, weights: Mapping[str, Any]) -> dict[str, Any]:
        """Gathered tensors that stay valid. On the CPU "offloading" them to the CPU copies
        nothing, and FSDP frees the gathered storage at the next reshard (safetensors then
        reads freed memory), so they are copied; from an accelerator they are copies already."""
        if self.accelerator is None or self.accelerator.device.type != "cpu":
            return dict(weights)
        return {name: t.detach().clone() for name, t in weights.items()}

    def backward(self, loss: Any) -> None:
        if self.distributed:
            self.accelerator.backward(loss)
        else:
            loss.backward()

    def full_training_state(self, model: Any, optimizer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """A sharded run's trainable weights and optimizer state, gathered whole onto rank 0 (a
        collective; the other processes get empty dicts). Whole, so a resume may use another
        number of processes."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

        names = [name for name, p in model.named_parameters() if p.requires_grad]
        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        weights, optim = get_state_dict(model, optimizer, options=options)
        return self._owned({name: weights[name] for name in names if name in weights}), dict(optim)

    def load_full_training_state(
        self, model: Any, optimizer: Any, trainable: dict[str, Any], optim: dict[str, Any]
    ) -> None:
        """The inverse of `full_training_state`: every process reads the whole state and keeps
        its slices."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

        options = StateDictOptions(full_state_dict=True, strict=False)
        set_state_dict(model, optimizer, model_state_dict=trainable, optim_state_dict=optim, options=options)

    def deal(self, items: Sequence[T]) -> list[T]:
        """Every world-th item from its rank on, never padded: a training step's rows (every
        process makes one forward pass per step whatever its share, and a stand-in row would
        add to the gradient)."""
        return list(items[self.rank :: self.world])

    def shard(self, items: Sequence[T]) -> list[T]:
        """This process's share for evaluation: every world-th item from its rank on. Sharded, every share
        has the same length (stand-ins, copies of the first item, at the end), so every process
        makes the same number of forward passes; `gather` and `real` leave the stand-ins out."""
        mine = self.deal(items)
        if self.sharded and items:
            mine += [items[0]] * (math.ceil(len(items) / self.world) - len(mine))
        return mine

    def real(self, total: int) -> int:
        """How many items of this process's share of `total` are real (the rest stand-ins)."""
        return len(range(self.rank, total, self.world))

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
        return bool(self.decided(flag))

    def decided(self, value: T) -> T:
        """The main process's `value` (any picklable one), on every process."""
        if not self.distributed:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.distributed:
            self.accelerator.wait_for_everyone()


LOCAL = Engine()


def interleave(parts: Sequence[Sequence[T]], total: int) -> list[T]:
    """The inverse of dealing `total` items `rank::world` to len(parts) processes (stand-ins
    padding a share beyond its real items are dropped)."""
    out: list[Any] = [None] * total
    for rank, part in enumerate(parts):
        slots = range(rank, total, len(parts))
        out[rank :: len(parts)] = list(part[: len(slots)])
    return out


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "false").lower() == "true"


def requested_kind(env: Mapping[str, str]) -> str:
    """The engine the launch asked for: accelerate launch exports ACCELERATE_USE_FSDP or
    ACCELERATE_USE_DEEPSPEED (and FSDP_* / the DeepSpeed settings) from the config file."""
    if int(env.get("WORLD_SIZE", "1")) <= 1:
        return "local"
    if _flag(env, "ACCELERATE_USE_DEEPSPEED"):
        return "deepspeed"
    if _flag(env, "ACCELERATE_USE_FSDP"):
        return "fsdp"
    return "ddp"


def sharded_request(env: Mapping[str, str]) -> bool:
    """Whether the launch asks for sharded parameters: FSDP, or DeepSpeed's ZeRO stage 3."""
    kind = requested_kind(env)
    return kind == "fsdp" or (kind == "deepspeed" and env.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3")


def refuse_mode(mode: str | None, sharded: bool, kind: str) -> None:
    """LoRA does not train under sharded parameters here: the saved checkpoint is peft's merge,
    which needs whole weights, and the adapters would be sharded with the layers they wrap."""
    if sharded and mode == "lora":
        raise EngineError(
            f"--mode lora does not run under {kind} (sharded parameters): "
            "use --mode full or last-n, or LoRA with DDP (no --accelerate-config)"
        )


def check_supported(kind: str, env: Mapping[str, str], mode: str | None = None) -> None:
    """Refuse, before any work, what tasklang cannot run: DeepSpeed without the package
    (accelerate would fail with a traceback), FSDP1, whose gradient clipping over a subset
    of parameters (last-n) would use each process's local norm, and LoRA when sharded."""
    refuse_mode(mode, sharded_request(env), kind)
    if kind == "deepspeed" and importlib.util.find_spec("deepspeed") is None:
        raise EngineError(
            "the accelerate config asks for DeepSpeed, which is not installed: "
            "pip install deepspeed, or use an FSDP (fsdp_version: 2) config"
        )
    precision = env.get("ACCELERATE_MIXED_PRECISION", "no").lower()
    if kind != "local" and precision != "no":
        # accelerate's own autocast and fp16 loss scaler would run on top of tasklang's (the
        # loss scaled twice); one home decides precision: --dtype (train/devices.py).
        raise EngineError(
            f"the accelerate config sets mixed_precision: {precision}: tasklang sets precision with "
            f"--dtype (fp32 weights, autocast in the dtype); set mixed_precision: 'no' and pass "
            f"--dtype {precision if precision in ('bf16', 'fp16') else 'bf16'}"
        )
    if kind == "fsdp" and env.get("FSDP_VERSION", "1") != "2":
        raise EngineError(
            "the accelerate config asks for FSDP1: tasklang runs FSDP2, "
            "set fsdp_version: 2 in its fsdp_config"
        )


def config_env(path: str | Path) -> dict[str, str]:
    """What an accelerate config file asks for, in the variables `accelerate launch` exports
    from it (enough for `requested_kind` and `check_supported` before launching)."""
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise EngineError(f"cannot read the accelerate config {path}: {err}") from None
    if not isinstance(raw, dict):
        raise EngineError(f"the accelerate config {path} is not a mapping")
    kind = str(raw.get("distributed_type", "")).upper()
    fsdp = raw.get("fsdp_config") or {}
    deepspeed = raw.get("deepspeed_config") or {}
    return {
        "WORLD_SIZE": "2",  # what matters here is the engine, not the count
        "ACCELERATE_USE_DEEPSPEED": str(kind == "DEEPSPEED").lower(),
        "ACCELERATE_USE_FSDP": str(kind == "FSDP").lower(),
        "ACCELERATE_MIXED_PRECISION": str(raw.get("mixed_precision") or "no"),
        "FSDP_VERSION": str(fsdp.get("fsdp_version", 1)) if isinstance(fsdp, dict) else "1",
        "ACCELERATE_DEEPSPEED_ZERO_STAGE": str(deepspeed.get("zero_stage", 2))
        if isinstance(deepspeed, dict)
        else "2",
    }


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
    kind = requested_kind(os.environ)
    check_supported(kind, os.environ)
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=placement.kind == "cpu")
    if kind == "fsdp" and placement.kind == "cpu":
        _shard_on_cpu(accelerator)
    device = accelerator.device
    name = "cpu" if device.type == "cpu" else f"{device.type}:{device.index or 0}"
    asked = kind
    kind, sharded = _engine_of(accelerator)
    if asked == "deepspeed" and kind != "deepspeed":  # accelerate runs DeepSpeed only on accelerators
        raise EngineError(
            f"the accelerate config asks for DeepSpeed, which needs CUDA: this run is on {name}"
        )
    engine = Engine(accelerator.process_index, accelerator.num_processes, accelerator, kind, sharded)
    return engine, Placement(name, placement.dtype)


def _shard_on_cpu(accelerator: Any) -> None:
    """Make `prepare` shard: accelerate picks FSDP only for multi-accelerator launches and
    silently gives MULTI_CPU (plain DDP) otherwise. The plugin reads the FSDP_* variables."""
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    accelerator.state.distributed_type = DistributedType.FSDP
    accelerator.state.fsdp_plugin = FullyShardedDataParallelPlugin()


def _engine_of(accelerator: Any) -> tuple[str, bool]:
    """What accelerate actually set up (what the run log records), and whether it shards."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type == DistributedType.FSDP:
        return "fsdp", True
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        plugin = getattr(accelerator.state, "deepspeed_plugin", None)
        return "deepspeed", plugin is not None and getattr(plugin, "zero_stage", 0) == 3
    return "ddp", False


def launch_command(module_args: Sequence[str], processes: int | None, config: str | None) -> list[str]:
    """`accelerate launch` of `python -m tasklang.cli ARGS` in `processes` processes (None: as
    many as the config file says). Without a config file, plain DDP (gloo on the CPU, nccl on
    CUDA: accelerate picks the backend); with one, whatever it says (FSDP, DeepSpeed, machines)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if processes is not None:
        cmd += ["--num_processes", str(processes)]
    if config:
        cmd += ["--config_file", config]
    else:
        cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    return [*cmd, "-m", "tasklang.cli", *module_args]


def launch(module_args: Sequence[str], processes: int | None, config: str | None) -> int:
    """Run the command in several processes; their exit status (0 when every one succeeded)."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.call(launch_command(module_args, processes, config), env=env)
