"""`tasklang train sft|rl|loop` and `tasklang eval [compare]`: thin click wrappers.

Importing this module imports neither torch nor transformers: the commands import the
trainer when they run, so `tasklang compile` works without the train extra and a missing
extra is one clear line, not a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from tasklang.exits import FAILED as EXIT_FAILED
from tasklang.exits import USAGE as EXIT_USAGE


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """One line and exit 1 (bad data, unreadable input, missing extra); exit 2 for options."""
    click.echo(f"tasklang: error: {message}", err=True)
    sys.exit(code)


def _check_out(folder: str | Path, shown: str | Path | None = None) -> None:
    """An -o that cannot be written is one line (exit 1) before any model loads or generates,
    not after the work (tasklang.files.check_writable)."""
    from tasklang.files import check_writable

    check_writable(Path(folder), None if shown is None else Path(shown))


def _write_out(path: Path, text: str) -> None:
    """`text` to `path` (its folder made if needed); a failure names `path`, not the
    temporary file beside it."""
    from tasklang.exits import OutputUnwritable
    from tasklang.files import write_text_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except OSError as err:
        raise OutputUnwritable(path, err) from None


@contextmanager
def _user_errors() -> Any:
    """Known failures become one line: bad data or an unloadable model exit 1, a mode the
    options cannot give (--last-n beyond the layers, --prompt-split val) exits 2."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as err:
        _fail(f"training needs the train extra ({err.name} is missing): pip install 'tasklang[train]'")
    from .data import DataError
    from .devices import DeviceError
    from .models import ModelError
    from .modes import ModeError

    try:
        yield
    except (DataError, ModelError) as err:
        _fail(str(err))
    except (ModeError, DeviceError) as err:
        _fail(str(err), EXIT_USAGE)
    except KeyboardInterrupt:
        _fail("interrupted (a run directory keeps its metrics.jsonl, last/ and curve.png)", 130)


def _quiet_transformers() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _device_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--device` and `--dtype`, the same on every command that runs a model."""
    from .devices import DEVICES, DTYPES

    options = [
        click.option(
            "--device",
            default="auto",
            show_default=True,
            metavar="|".join(DEVICES) + "|cuda:N",
            help="Where to compute; auto picks the accelerator when there is one.",
        ),
        click.option(
            "--dtype",
            type=click.Choice(DTYPES),
            default="auto",
            show_default=True,
            help="Precision; auto: bf16 on CUDA where supported, fp32 on the CPU.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _process_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--num-processes` and `--accelerate-config`: the command again under `accelerate launch`."""
    options = [
        click.option(
            "--num-processes",
            type=click.IntRange(1),
            default=1,
            show_default=True,
            help="Run in N processes under `accelerate launch` (DDP: gloo on the CPU, nccl on CUDA).",
        ),
        click.option(
            "--accelerate-config",
            type=click.Path(exists=True, dir_okay=False),
            default=None,
            help="An `accelerate config` file passed to accelerate launch (FSDP2, DeepSpeed, machines); "
            "its num_processes holds unless --num-processes is given. FSDP2 also shards on the CPU.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _relaunch_args(ctx: click.Context, drop: tuple[str, ...]) -> list[str]:
    """The command line that gave `ctx` its parameters, less `drop`: what each process runs."""
    names: list[str] = []
    at: click.Context | None = ctx
    while at is not None and at.parent is not None:
        names.insert(0, at.info_name or "")
        at = at.parent
    args = list(names)
    for param in ctx.command.params:
        name = param.name or ""
        source = ctx.get_parameter_source(name)
        if name in drop or source is None or source.name == "DEFAULT":
            continue
        value = ctx.params[name]
        if isinstance(param, click.Argument):
            args.append(str(value))
        elif isinstance(param, click.Option) and param.is_flag:
            flag = param.opts[0] if value else (param.secondary_opts or [None])[0]
            if flag:
                args.append(flag)
        elif value is not None:
            args += [param.opts[-1] if param.opts[-1].startswith("--") else param.opts[0], str(value)]
    return args


def _maybe_launch(ctx: click.Context, processes: int, config: str | None) -> None:
    """With --num-processes N (or a config), run the same command in N processes and exit
    with their status; inside a launched process, or for one process, do nothing. What the
    config asks for is checked first: a refusal is one line here, not one per process."""
    from .distributed import launch, launched

    if launched() or (processes == 1 and config is None):
        return
    try:
        import accelerate  # noqa: F401
    except ImportError:
        _fail("several processes need accelerate: pip install 'tasklang[train]'")
    if config is not None:
        from .distributed import EngineError, check_supported, config_env, requested_kind

        try:  # before launching: accelerate's launcher answers a missing DeepSpeed with a traceback
            env = config_env(config)
            check_supported(requested_kind(env), env, ctx.params.get("mode"))
        except EngineError as err:
            _fail(str(err), EXIT_USAGE)
    # A config file's num_processes holds unless --num-processes was given (its default of 1
    # would otherwise turn an 8-process FSDP config into one process, silently unsharded).
    given = ctx.get_parameter_source("num_processes") != click.core.ParameterSource.DEFAULT
    count = processes if given or config is None else None
    sys.exit(launch(_relaunch_args(ctx, ("num_processes", "accelerate_config")), count, config))


def _check_run(command: str, kw: dict[str, Any]) -> None:
    """An -o that holds a run, with neither --resume nor --overwrite: one line, exit 2, before
    any model loads or any process starts. In a launched process the trainer asks instead,
    and the main process's answer holds for all (train.runs.check_run_dir)."""
    from .distributed import launched
    from .runs import check_run_dir

    if not launched():
        check_run_dir(Path(kw["out"]), command, kw.get("resume", False), kw["overwrite"])


def _one_process(command: str) -> None:
    from .distributed import launched

    if launched():
        _fail(f"`train {command}` runs in one process; several are for `train sft` and `eval`", EXIT_USAGE)


def _model_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--model",
            required=True,
            help="`tiny` (offline, built here), a hub id, a local "
            "model directory, or a run directory (its selected checkpoint).",
        ),
        click.option(
            "--data",
            required=True,
            type=click.Path(),  # a missing one is DataError: exit 1, as in every command
            help="A `tasklang compile` or `import` dataset directory (train.jsonl; val.jsonl, where "
            "there is one, chooses the checkpoint) or a JSONL file of training records.",
        ),
        click.option("-o", "--out", required=True, type=click.Path(file_okay=False), help="Run directory."),
        click.option(
            "--overwrite",
            is_flag=True,
            help="Replace the run already in OUT (kept until the new run has a checkpoint).",
        ),
        click.option(
            "--mode", type=click.Choice(["full", "lora", "last-n"]), default="full", show_default=True
        ),
        click.option(
            "--last-n",
            type=click.IntRange(1),
            default=6,
            show_default=True,
            help="last-n: how many final decoder layers train (with lm_head, untied).",
        ),
        click.option("--lora-r", type=click.IntRange(1), default=16, show_default=True),
        click.option("--lora-alpha", type=click.IntRange(1), default=32, show_default=True),
        click.option(
            "--prompt-format",
            type=click.Choice(["chat", "plain"]),
            default="chat",
            show_default=True,
            help="plain: `Instruction: ... Response:` (for base models without a chat template).",
        ),
        click.option(
            "--max-new-tokens",
            type=click.IntRange(1),
            default=None,
            help="Generation budget (default: the dataset manifest's).",
        ),
        click.option(
            "--val-n",
            type=click.IntRange(0),
            default=64,
            show_default=True,
            help="Val examples answered at each evaluation (0: val loss only).",
        ),
        click.option(
            "--eval-every",
            type=click.IntRange(0),
            default=0,
            show_default=True,
            help="Steps (rl, loop: iterations) between evaluations "
            "(0: about 8 per sft run, 5 per rl run, every loop iteration).",
        ),
        click.option("--seed", type=click.IntRange(0), default=0, show_default=True),
        click.option(
            "--time-limit",
            type=click.FloatRange(min=1),
            default=None,
            help="Seconds; stop after the next evaluation past it (still saves).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return _device_options(f)


def _tiny_spec(text: str | None) -> Any:
    """--tiny-config as a TinySpec; a bad one is a bad option (exit 2)."""
    from .models import ModelError, TinySpec

    try:
        return TinySpec.from_json(text)
    except ModelError as err:
        _fail(str(err), EXIT_USAGE)


def _mode(kw: dict[str, Any]) -> Any:
    from .modes import ModeSpec

    return ModeSpec(kw["mode"], kw["last_n"], kw["lora_r"], kw["lora_alpha"])


def _done(summary: dict[str, Any], out: str) -> None:
    click.echo(json.dumps(summary, sort_keys=True, default=str))
    click.echo(f"run directory: {out} (config.json, metrics.jsonl, checkpoint/, curve.png)", err=True)


@click.group("train")
def train_group() -> None:
    """Train a model on a compiled dataset (needs the `train` extra)."""


@train_group.command("sft")
@_model_options
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True)
@click.option(
    "--coverage",
    type=click.FloatRange(min=0, min_open=True),
    default=3.0,
    show_default=True,
    help="Passes over the training data (the notes' sweet spot: 2-3).",
)
@click.option("--steps", type=click.IntRange(1), default=None, help="Optimizer steps (overrides --coverage).")
@click.option("--warmup", type=click.FloatRange(0, 1), default=0.05, show_default=True)
@click.option(
    "--packing/--no-packing",
    default=False,
    show_default=True,
    help="Several examples per row, kept apart (positions restart, block-diagonal attention).",
)
@click.option(
    "--max-length", type=click.IntRange(1), default=None, help="Refuse (never truncate) longer examples."
)
@click.option("--tiny-config", default=None, help="JSON for --model tiny, e.g. '{\"num_hidden_layers\": 2}'.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last if it exists.")
@_process_options
@click.pass_context
def sft_cmd(ctx: click.Context, **kw: Any) -> None:
    """Supervised fine-tuning, loss on the completion only."""
    _check_out(kw["out"])
    _check_run("sft", kw)
    _maybe_launch(ctx, kw["num_processes"], kw["accelerate_config"])
    with _user_errors():
        _quiet_transformers()
        from .sft import Schedule, SFTConfig, Validation, run_sft

        cfg = SFTConfig(
            model=kw["model"],
            data=kw["data"],
            out=kw["out"],
            mode=_mode(kw),
            schedule=Schedule(
                lr=kw["lr"],
                batch_size=kw["batch_size"],
                coverage=kw["coverage"],
                steps=kw["steps"],
                warmup=kw["warmup"],
                packing=kw["packing"],
                seed=kw["seed"],
            ),
            validation=Validation(every=kw["eval_every"], n=kw["val_n"], max_new_tokens=kw["max_new_tokens"]),
            prompt_format=kw["prompt_format"],
            max_length=kw["max_length"],
            time_limit_s=kw["time_limit"],
            tiny=_tiny_spec(kw["tiny_config"]),
            resume=kw["resume"],
            overwrite=kw["overwrite"],
            device=kw["device"],
            dtype=kw["dtype"],
        )
        summary = run_sft(cfg)
        from .distributed import main_process

        if main_process():
            _done(summary, kw["out"])


_PROMPT_SPLIT = click.option(
    "--prompt-split",
    default="train",
    show_default=True,
    help="Split whose prompts are sampled, e.g. an `rl` split of fresh payloads (never val).",
)


def _curriculum(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    from .curriculum import CurriculumError, parse_spec

    try:
        return parse_spec(value)
    except CurriculumError as err:
        raise click.BadParameter(str(err)) from None


_CURRICULUM = click.option(
    "--curriculum",
    default=None,
    callback=_curriculum,
    metavar="band:LOW-HIGH[,floor:F,rate:R,window:N,min:N,by:pattern|difficulty]",
    help="Adapt the prompt mixture to the observed successes: keep each bucket (pattern, or "
    "difficulty level) in the band, moving up a level when it is exceeded (docs/TRAINING.md).",
)


def _run_args(kw: dict[str, Any]) -> dict[str, Any]:
    """The config fields every `train` command takes the same way."""
    return {
        "model": kw["model"],
        "data": kw["data"],
        "out": kw["out"],
        "mode": _mode(kw),
        "max_new_tokens": kw["max_new_tokens"],
        "prompt_format": kw["prompt_format"],
        "seed": kw["seed"],
        "device": kw["device"],
        "dtype": kw["dtype"],
        "overwrite": kw["overwrite"],
    }


@train_group.command("rl")
@_model_options
@click.option("--iterations", type=click.IntRange(1), default=50, show_default=True)
@click.option("--prompts-per-step", type=click.IntRange(1), default=8, show_default=True)
@click.option(
    "-k", "k", type=click.IntRange(2), default=4, show_default=True, help="Samples per prompt (the group)."
)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-5, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True)
@click.option(
    "--kl",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Weight of the KL penalty to the start model (0: none).",
)
@_PROMPT_SPLIT
@_CURRICULUM
@click.option("--normalize", is_flag=True, help="Divide advantages by the group's std.")
def rl_cmd(**kw: Any) -> None:
    """REINFORCE with the runtime's graded reward and a per-prompt group baseline."""
    _one_process("rl")
    _check_out(kw["out"])
    _check_run("rl", kw)
    with _user_errors():
        _quiet_transformers()
        from .rl import RLConfig, run_rl
        from .sft import Validation

        cfg = RLConfig(
            **_run_args(kw),
            iterations=kw["iterations"],
            prompts_per_step=kw["prompts_per_step"],
            k=kw["k"],
            lr=kw["lr"],
            temperature=kw["temperature"],
            kl=kw["kl"],
            normalize=kw["normalize"],
            prompt_split=kw["prompt_split"],
            curriculum=kw["curriculum"],
            time_limit_s=kw["time_limit"],
            validation=Validation(every=kw["eval_every"], n=kw["val_n"]),
        )
        _done(run_rl(cfg), kw["out"])


@train_group.command("loop")
@_model_options
@click.option("--iterations", type=click.IntRange(1), default=3, show_default=True)
@click.option(
    "--problems", type=click.IntRange(1), default=None, help="Training problems per iteration (default all)."
)
@click.option("-k", "k", type=click.IntRange(1), default=4, show_default=True, help="Samples per problem.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=0.8, show_default=True)
@click.option(
    "--passes",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="SFT passes over each iteration's verified solutions.",
)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True)
@_PROMPT_SPLIT
@_CURRICULUM
def loop_cmd(**kw: Any) -> None:
    """Self-improvement: sample, keep what the runtime verifies, fine-tune, measure; repeat."""
    _one_process("loop")
    _check_out(kw["out"])
    _check_run("loop", kw)
    with _user_errors():
        _quiet_transformers()
        from .loop import LoopConfig, run_loop
        from .sft import Schedule, Validation

        cfg = LoopConfig(
            **_run_args(kw),
            iterations=kw["iterations"],
            problems=kw["problems"],
            k=kw["k"],
            temperature=kw["temperature"],
            passes=kw["passes"],
            prompt_split=kw["prompt_split"],
            curriculum=kw["curriculum"],
            schedule=Schedule(lr=kw["lr"], batch_size=kw["batch_size"], seed=kw["seed"]),
            validation=Validation(every=kw["eval_every"], n=kw["val_n"]),
            time_limit_s=kw["time_limit"],
        )
        _done(run_loop(cfg), kw["out"])


def _where(summary: dict[str, Any]) -> str:
    """Device, its name, dtype and peak memory, as one phrase for a text summary."""
    name = f" ({summary['device_name']})" if "device_name" in summary else ""
    peak = summary.get("peak_device_bytes", summary.get("peak_rss_bytes", 0)) / 2**20
    kind = "device" if "peak_device_bytes" in summary else "process RSS"
    return f"{summary['device']}{name} in {summary['dtype']}, peak {kind} memory {peak:.0f} MiB"


def _print_summary(summary: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(summary, sort_keys=True))
        return
    click.echo(f"data: {summary['data']}{_split_text(summary)}; prompt format {summary['prompt_format']}")
    click.echo(f"max new tokens {summary['max_new_tokens']} (from {summary['max_new_tokens_source']})")
    lo, hi = summary["wilson95"]
    click.echo(f"n={summary['n']}  greedy accuracy={summary['accuracy']:.4f}  (95% Wilson {lo:.4f}-{hi:.4f})")
    click.echo(
        f"parse rate {summary['parse_rate']:.4f}  valid trace rate {summary['valid_trace_rate']:.4f}  "
        f"mean reward {summary['mean_reward']:.4f}"
    )
    click.echo("statuses: " + ", ".join(f"{k} {v}" for k, v in summary["statuses"].items()))
    if "device" in summary:
        click.echo(f"on {_where(summary)}")
    sampled = summary.get("sampling")
    if sampled:
        click.echo(
            f"sampled: {sampled['k']} per prompt at temperature {sampled['temperature']:g}, "
            f"top-p {sampled['top_p']:g}, seed {sampled['seed']}"
        )
        click.echo("  " + "  ".join(f"pass@{k}={v:.4f}" for k, v in sampled["pass_at"].items()))
        mlo, mhi = sampled["majority_wilson95"]
        click.echo(
            f"  majority vote accuracy={sampled['majority_accuracy']:.4f}  (95% Wilson {mlo:.4f}-{mhi:.4f}; "
            f"{sampled['no_answer']} with no executed answer)"
        )
    for key, groups in summary["by"].items():
        if len(groups) > 1:
            click.echo(f"by {key}:")
            for name, g in groups.items():
                click.echo(
                    f"  {name:<40} n={g['n']:<5} accuracy={g['accuracy']:.4f}  "
                    f"[{g['wilson95'][0]:.3f}, {g['wilson95'][1]:.3f}]"
                )
    if "warning" in summary:
        click.echo(f"warning: {summary['warning']}", err=True)


_DATA_HELP = (
    "A `tasklang compile` dataset directory (see --split) or a JSONL file of compiled records."
)
_SPLIT = click.option(
    "--split", default=None, help="Split of a dataset directory (default: test if it has one, else val)."
)
_BUDGET = click.option(
    "--max-new-tokens",
    type=click.IntRange(1),
    default=None,
    help="New tokens per answer (default: the dataset manifest's).",
)
_LIMIT = click.option("-n", "limit", type=click.IntRange(1), default=None, help="Only the first n records.")
_FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)


def _eval_records(data: str, split: str | None, limit: int | None, max_new_tokens: int | None) -> Any:
    """(records, the split read, the token budget) for eval and eval gap."""
    from .data import budget, eval_split, read_records

    path, chosen = eval_split(Path(data), split)
    return read_records(path)[:limit], chosen, budget(max_new_tokens, Path(data), chosen or path.stem)


def _split_fields(split: str | None, asked: str | None) -> dict[str, Any]:
    """`split` and, when eval chose it, why (the summary states which split was measured)."""
    if split is None or asked is not None:
        return {"split": split}
    why = "the directory has a test split" if split == "test" else "the directory has no test split"
    return {"split": split, "split_note": f"the default: {why}"}


def _split_text(fields: dict[str, Any]) -> str:
    if not fields.get("split"):
        return ""
    note = f"; {fields['split_note']}" if fields.get("split_note") else ""
    return f" (split {fields['split']}{note})"


def _sampling_plan(samples: int | None, temperature: float | None, top_p: float | None, seed: int) -> Any:
    """None (greedy only) unless a sampling option is given; then K samples (default 1)."""
    if samples is None and temperature is None and top_p is None:
        return None
    from .sampled import SamplingPlan

    return SamplingPlan(samples or 1, 1.0 if temperature is None else temperature,
                        1.0 if top_p is None else top_p, seed)


@click.group("eval", invoke_without_command=True)
@click.option("--model", default=None, help="`tiny`, a hub id, a model directory or a run directory.")
@click.option("--data", default=None, type=click.Path(), help=_DATA_HELP)
@_SPLIT
@click.option(
    "-o",
    "--out",
    default=None,
    type=click.Path(dir_okay=False),
    help="Per-example greedy results (JSONL); the summary goes beside it as OUT.summary.json "
    "and sampled answers as OUT.samples.jsonl.",
)
@click.option("--prompt-format", type=click.Choice(["chat", "plain"]), default="chat", show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True)
@_BUDGET
@_LIMIT
@click.option(
    "--samples",
    type=click.IntRange(1),
    default=None,
    help="Sampled answers per prompt (pass@k for every k <= K, majority vote), beside greedy.",
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Sampling temperature (default 1 when sampling).",
)
@click.option(
    "--top-p", type=click.FloatRange(0, 1, min_open=True), default=None, help="Nucleus sampling (default 1)."
)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seed of the samples.")
@_FORMAT
@_device_options
@_process_options
@click.pass_context
def eval_group(ctx: click.Context, **kw: Any) -> None:
    """Greedy answers graded by the runtime: accuracy with a Wilson interval, breakdowns;
    with --samples K also pass@k and the majority vote.

    `tasklang eval compare A.jsonl B.jsonl` pairs two result files by id (McNemar, Cohen's h);
    `tasklang eval gap` measures a base model against another before training;
    `tasklang eval power` sizes a paired comparison.
    """
    if ctx.invoked_subcommand is not None:
        return
    missing = [name for name, v in (("--model", kw["model"]), ("--data", kw["data"]), ("-o", kw["out"]))
               if v is None]
    if missing:
        _fail(f"eval needs {', '.join(missing)} (or use `tasklang eval compare|gap|power`)", EXIT_USAGE)
    _check_out(Path(kw["out"]).parent, kw["out"])
    _maybe_launch(ctx, kw["num_processes"], kw["accelerate_config"])
    plan = _sampling_plan(kw["samples"], kw["temperature"], kw["top_p"], kw["seed"])
    with _user_errors():
        _quiet_transformers()
        from .devices import peak_memory, place, reset_peak_memory, resolve
        from .distributed import start
        from .evaluate import summarize
        from .models import load
        from .runs import json_text
        from .sft import evaluate_model

        records, split, max_new = _eval_records(kw["data"], kw["split"], kw["limit"], kw["max_new_tokens"])
        engine, placement = start(resolve(kw["device"], kw["dtype"]))
        reset_peak_memory(placement)
        m, tok = load(kw["model"], records, dtype=placement.torch_dtype())
        m = engine.prepare_for_inference(place(m, placement, train=False))
        args = (m, tok, records, kw["prompt_format"], max_new.tokens)
        results = evaluate_model(*args, kw["batch_size"], engine=engine)
        samples = None
        if plan is not None:  # every process samples its share (seeded per row: the same answers)
            from .sampled import sample_records

            samples = sample_records(*args, plan, kw["batch_size"], engine=engine)
        if not engine.main:  # every process has the gathered results; one writes them
            return
        summary = {
            **summarize(results),
            "model": kw["model"],
            "data": kw["data"],
            **_split_fields(split, kw["split"]),
            "prompt_format": kw["prompt_format"],
            "max_new_tokens": max_new.tokens,
            "max_new_tokens_source": max_new.source,
            **placement.describe(),
            "processes": engine.world,
            "engine": engine.kind,
        }
        path = Path(kw["out"])
        if plan is not None and samples is not None:
            from .sampled import record_votes, summarize_samples

            votes = [record_votes(r, s) for r, s in zip(records, samples, strict=True)]
            summary["sampling"] = summarize_samples(votes, plan)
            rows = [{**v, "outputs": [s["output"] for s in ss], "statuses": [s["status"] for s in ss]}
                    for v, ss in zip(votes, samples, strict=True)]
            _write_out(path.with_name(path.name + ".samples.jsonl"), _jsonl(rows))
        summary.update(peak_memory(placement))
        _write_out(path, _jsonl(results))
        _write_out(path.with_name(path.name + ".summary.json"), json_text(summary))
        _print_summary(summary, kw["fmt"])


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in rows)


def _read_results(path: str) -> list[dict[str, Any]]:
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as err:
        _fail(f"cannot read {path}: {err.strerror or err}")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            _fail(f"{path}:{number}: not JSON: {err.msg}")
        if not isinstance(row, dict) or "id" not in row or "correct" not in row:
            _fail(f"{path}:{number}: not an eval result (needs id and correct)")
        rows.append(row)
    return rows


@eval_group.command("compare")
@click.argument("a", type=str)
@click.argument("b", type=str)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def compare_cmd(a: str, b: str, fmt: str) -> None:
    """Paired comparison of two eval result files (matched by id)."""
    from .evaluate import compare

    result = compare(_read_results(a), _read_results(b))
    if result["n"] == 0:
        _fail("the two files share no id: nothing to pair")
    if fmt == "json":
        click.echo(json.dumps(result, sort_keys=True))
        return
    click.echo(f"paired n={result['n']}: A {result['accuracy_a']:.4f} vs B {result['accuracy_b']:.4f}")
    click.echo(
        f"only A right {result['only_a_correct']}, only B right {result['only_b_correct']}, "
        f"both {result['both_correct']}, neither {result['neither_correct']}"
    )
    click.echo(f"McNemar exact p = {result['mcnemar_p']:.4g}; Cohen's h = {result['cohens_h']:+.3f}")
    if "warning" in result:
        click.echo(f"warning: {result['warning']}", err=True)


@eval_group.command("gap")
@click.option(
    "--model",
    "models",
    multiple=True,
    required=True,
    help="Twice: the base model first, then the other (instruct or trained) model.",
)
@click.option("--data", required=True, type=click.Path(), help=_DATA_HELP)
@_SPLIT
@_BUDGET
@_LIMIT
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True)
@click.option(
    "--other-format",
    type=click.Choice(["chat", "plain"]),
    default="chat",
    show_default=True,
    help="Prompt format of the other model (the base model is measured with both).",
)
@click.option("--base-max", type=click.FloatRange(0, 1), default=0.30, show_default=True,
              help="Gate: the base model's accuracy is at most this, in every format.")
@click.option("--other-min", type=click.FloatRange(0, 1), default=0.80, show_default=True,
              help="Gate: the other model's accuracy is at least this.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True), default=0.01, show_default=True,
              help="Gate: McNemar's exact p is below this.")
@click.option("--min-h", type=float, default=0.5, show_default=True,
              help="Gate: Cohen's h (other over base) is at least this.")
@click.option(
    "-o", "--out", default=None, type=click.Path(file_okay=False),
    help="Directory for each arm's per-example results (base.chat.jsonl, ...) and gap.json.",
)
@click.option(
    "--base-results", default=None, type=click.Path(file_okay=False),
    help="Reuse the base arms of an earlier `eval gap -o DIR` (same base model, records and budget) "
    "instead of measuring the base model again.",
)
@_FORMAT
@_device_options
def gap_cmd(**kw: Any) -> None:
    """Measure the gap before training (notes 001): the base model with its chat template and
    with the plain `Instruction: ... Response:` cue, the other model beside it, paired."""
    if len(kw["models"]) != 2:
        _fail(f"eval gap needs --model twice (base, then other), got {len(kw['models'])}", EXIT_USAGE)
    from .gap import Thresholds, evaluate_arms, render, report, reused_base_arms

    thresholds = Thresholds(kw["base_max"], kw["other_min"], kw["alpha"], kw["min_h"])
    base, other = kw["models"]
    if kw["out"]:
        _check_out(kw["out"])
    with _user_errors():
        _quiet_transformers()
        from .devices import peak_memory, reset_peak_memory, resolve

        placement = resolve(kw["device"], kw["dtype"])
        reset_peak_memory(placement)
        records, split, max_new = _eval_records(kw["data"], kw["split"], kw["limit"], kw["max_new_tokens"])
        reused = None
        if kw["base_results"]:
            reused = reused_base_arms(
                Path(kw["base_results"]), base, records, max_new.tokens, placement.dtype
            )
        arms, skipped = evaluate_arms(
            base, other, records, max_new.tokens, kw["batch_size"], kw["other_format"], placement, reused
        )
        result = {
            "base": base,
            "other": other,
            "data": kw["data"],
            **_split_fields(split, kw["split"]),
            "max_new_tokens": max_new.tokens,
            "max_new_tokens_source": max_new.source,
            **placement.describe(),
            **({"base_results": kw["base_results"]} if kw["base_results"] else {}),
            **report(arms, skipped, thresholds, f"other.{kw['other_format']}"),
            **peak_memory(placement),
        }
        if kw["out"]:
            from .runs import json_text

            out = Path(kw["out"])
            for name, results in arms.items():
                _write_out(out / f"{name}.jsonl", _jsonl(results))
            _write_out(out / "gap.json", json_text(result))
    if kw["fmt"] == "json":
        click.echo(json.dumps(result, sort_keys=True))
        return
    click.echo(f"gap: base {base} vs other {other} on {kw['data']}{_split_text(result)}, n={len(records)}")
    click.echo(f"max new tokens {max_new.tokens} (from {max_new.source}); on {_where(result)}")
    for line in render(result):
        click.echo(line)
    if "warning" in result:
        click.echo(f"warning: {result['warning']}", err=True)


@eval_group.command("power")
@click.option("--p10", type=click.FloatRange(0, 1), default=None,
              help="P(a pair is right under A, wrong under B).")
@click.option("--p01", type=click.FloatRange(0, 1), default=None,
              help="P(a pair is wrong under A, right under B).")
@click.option("--discordance", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Instead of --p10/--p01: the share of discordant pairs, p10 + p01 ...")
@click.option("--difference", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="... and the accuracy difference to detect, |p01 - p10|.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True)
@click.option("--power", "target", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.8,
              show_default=True)
@click.option(
    "--method",
    type=click.Choice(["exact", "connor", "miettinen"]),
    default="exact",
    show_default=True,
    help="exact: the exact McNemar test's power, summed over the binomials; connor (1987) or "
    "miettinen (1968): normal approximations.",
)
@_FORMAT
def power_cmd(**kw: Any) -> None:
    """Pairs a McNemar comparison needs to detect a difference with the given power."""
    from .stats import Discordance, mcnemar_n, mcnemar_power

    given = (kw["p10"] is not None, kw["p01"] is not None)
    other = (kw["discordance"] is not None, kw["difference"] is not None)
    try:
        if all(given) and not any(other):
            disc = Discordance(kw["p10"], kw["p01"])
        elif all(other) and not any(given):
            disc = Discordance.of(kw["discordance"], kw["difference"])
        else:
            _fail("eval power needs --p10 and --p01, or --discordance and --difference", EXIT_USAGE)
        n = mcnemar_n(disc, kw["alpha"], kw["target"], kw["method"])
    except ValueError as err:
        _fail(str(err), EXIT_USAGE)
    result = {
        "n": n,
        "method": kw["method"],
        "p10": round(disc.p10, 12),
        "p01": round(disc.p01, 12),
        "discordance": round(disc.total, 12),
        "difference": round(disc.difference, 12),
        "alpha": kw["alpha"],
        "power": kw["target"],
        "exact_power_at_n": mcnemar_power(n, disc, kw["alpha"]),
        "discordant_pairs_expected": round(n * disc.total, 6),
    }
    if kw["fmt"] == "json":
        click.echo(json.dumps(result, sort_keys=True))
        return
    click.echo(
        f"n = {n} pairs ({kw['method']}) to detect a difference of {disc.difference:g} with "
        f"{disc.total:g} of pairs discordant (p10={disc.p10:g}, p01={disc.p01:g}), "
        f"alpha {kw['alpha']:g} two-sided, power {kw['target']:g}"
    )
    click.echo(
        f"exact McNemar power at n={n}: {result['exact_power_at_n']:.4f}; "
        f"about {result['discordant_pairs_expected']:.0f} discordant pairs expected"
    )


def register(main: click.Group) -> None:
    from .model_cli import model_group

    main.add_command(train_group)
    main.add_command(eval_group)
    main.add_command(model_group)
