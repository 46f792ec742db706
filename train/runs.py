"""Run directories: config, metrics, checkpoints, a learning curve, progress bars.

A run directory holds `config.json` (everything needed to reproduce it), `metrics.jsonl`
(one JSON object per logged event, appended and flushed, so a crashed run keeps its
history), `checkpoint/` (the selected model, loadable by `from_pretrained`), `last/` (the
state a resumed run continues from) and `curve.png`, drawn whenever the run ends, stopped
or not. In a multi-process run only the main process has a Run that writes (`enabled`).
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tasklang import __version__
from tasklang.exits import USAGE, CommandError
from tasklang.files import remove_entry, write_text_atomic

# What a run writes first or keeps longest: any of them in -o means a run lives there.
RUN_ENTRIES = ("config.json", "metrics.jsonl", "checkpoint", "last")


class RunDirTaken(CommandError):
    """-o holds a run and neither --resume nor --overwrite says what to do with it (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)


def run_entries(out: Path) -> list[str]:
    """The entries of RUN_ENTRIES that `out` holds (none when it is missing or not a folder)."""
    if not out.is_dir():
        return []
    return [name for name in RUN_ENTRIES if os.path.lexists(out / name)]


def run_dir_refusal(out: Path, command: str, resume: bool, overwrite: bool) -> str | None:
    """Why `train COMMAND -o OUT` must not start, or None. Only `train sft` can resume (rl and
    loop have no last/ to continue from), so only its message offers --resume as a way on."""
    if resume and overwrite:
        return "--resume continues the run in -o and --overwrite replaces it: pass one, not both"
    found = run_entries(out)
    if not found or resume or overwrite:
        return None
    held = ", ".join(name + ("/" if (out / name).is_dir() else "") for name in found)
    ways = "--resume to continue it or --overwrite to replace it"
    if command != "sft":
        ways = f"--overwrite to replace it (train {command} has no --resume; train sft has)"
    return f"-o {out} already holds a run ({held}); pass {ways}, or choose another -o"


def check_run_dir(
    out: Path,
    command: str,
    resume: bool = False,
    overwrite: bool = False,
    decided: Callable[[str | None], str | None] = lambda message: message,
) -> None:
    """RunDirTaken when `run_dir_refusal` says no. `decided` hands every process the main
    process's answer (Engine.decided): one process may already be writing -o while another
    looks, and processes that disagreed would hang at the first collective."""
    message = decided(run_dir_refusal(out, command, resume, overwrite))
    if message is not None:
        raise RunDirTaken(message)


def aside_path(out: Path) -> Path:
    """Where --overwrite keeps the old run until the new one has a checkpoint: beside -o
    (the same filesystem, so moving it is one rename), hidden, named by this process."""
    return out.parent / f".{out.name}.replaced-{os.getpid()}"


@contextmanager
def replacing(out: Path, overwrite: bool, enabled: bool = True) -> Iterator[None]:
    """--overwrite: the old run is moved aside (one rename) before the new one writes, and
    removed once the new run has a checkpoint of its own; a run that fails or is stopped
    before it has one puts the old run back. Moving aside, rather than building the new run
    elsewhere and swapping at the end, keeps -o the live run directory (metrics.jsonl is
    followed there, and every process of a multi-process run writes by that path). Only the
    main process moves anything (`enabled`)."""
    if not (overwrite and enabled and run_entries(out)):
        yield
        return
    aside = aside_path(out)
    remove_entry(aside)
    out.rename(aside)
    restored = False
    try:
        yield
    except BaseException:
        if not (out / "checkpoint").exists():  # nothing to put in its place: the old run stays
            remove_entry(out)
            aside.rename(out)
            restored = True
        raise
    finally:
        if not restored:
            remove_entry(aside)


def json_text(data: Any) -> str:
    """How run files (config.json, summaries, gap.json) hold JSON: indented, keys sorted."""
    return json.dumps(data, indent=1, sort_keys=True, default=str) + "\n"


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json_text(data))


def better(event: dict[str, Any], best: dict[str, Any]) -> bool:
    """Checkpoint selection, for every trainer: a higher val accuracy wins, and at equal
    accuracy a lower val loss. A missing value (None, or absent: no val split, no evaluation
    yet) ranks below every real one, so an event without either is never better."""

    def rank(e: dict[str, Any]) -> tuple[float, float]:
        acc, loss = e.get("val_accuracy"), e.get("val_loss")
        return (-1.0 if acc is None else acc, -math.inf if loss is None else -loss)

    return rank(event) > rank(best)


def start_run(
    out: Path,
    command: str,
    cfg: Any,
    model: Any,
    max_new_tokens: int,
    placement: Any,
    header: dict[str, Any] | None = None,
    start: dict[str, Any] | None = None,
    step: int = 0,
    resume: bool = False,
    enabled: bool = True,
) -> Run:
    """The Run of `train COMMAND`: config.json (the config, the model's size, the budget, the
    placement, and `header`) and the `start` event (the placement and `start`)."""
    from dataclasses import asdict

    from .models import parameter_count

    config = {
        "command": command,
        **asdict(cfg),
        **(header or {}),
        "parameters": parameter_count(model),
        "trainable_parameters": parameter_count(model, True),
        "max_new_tokens": max_new_tokens,
        "placement": placement.describe(),
    }
    run = Run(out, config, resume=resume, enabled=enabled)
    run.log(event="start", step=step, **(start or {}), **placement.describe())
    return run


class Run:
    def __init__(
        self, path: Path, config: dict[str, Any], resume: bool = False, enabled: bool = True
    ) -> None:
        self.path, self.enabled = path, enabled
        self.started = time.time()
        if not enabled:
            return
        path.mkdir(parents=True, exist_ok=True)
        if not resume and (path / "metrics.jsonl").exists():
            (path / "metrics.jsonl").unlink()
        write_json_atomic(path / "config.json", {**config, "tool": "tasklang", "version": __version__})

    def log(self, **event: Any) -> None:
        if not self.enabled:
            return
        event = {"time_s": round(time.time() - self.started, 2), **event}
        with (self.path / "metrics.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(event, sort_keys=True, default=float) + "\n")

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path)

    def evaluation(self, **event: Any) -> None:
        """An evaluation: logged, and one line on stderr (between progress bars, not through them)."""
        self.log(**event)
        if self.enabled:
            from tqdm import tqdm

            tqdm.write(evaluation_line(event), file=sys.stderr)

    def plot(self, title: str, x_label: str = "step") -> Path | None:
        if not self.enabled:
            return None
        return plot_curve(self.metrics(), self.path / "curve.png", title, x_label=x_label)

    @contextmanager
    def curve_on_exit(self, title: str, x_label: str) -> Iterator[None]:
        """curve.png is drawn however the block ends: done, an exception, Ctrl-C, or SIGTERM
        (turned into SystemExit so that `finally` runs; a killed run's metrics are its record)."""
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            yield
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            self.plot(title, x_label)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def evaluation_line(event: dict[str, Any]) -> str:
    """`step 40: train loss 0.8123, val loss 0.9011, val accuracy 0.453 (95% CI 0.335-0.578, n=64)`."""
    parts = []
    named = (("train_loss", "train loss"), ("val_loss", "val loss"), ("mean_reward", "mean reward"))
    for key, label in named:
        if event.get(key) is not None:
            parts.append(f"{label} {event[key]:.4f}")
    if "val_accuracy" in event:
        lo, hi = event.get("val_wilson95", (0.0, 1.0))
        n = event.get("val_n", "?")
        parts.append(f"val accuracy {event['val_accuracy']:.3f} (95% CI {lo:.3f}-{hi:.3f}, n={n})")
    where = f"iteration {event['iteration']}" if "iteration" in event else f"step {event.get('step')}"
    best = " (best so far)" if event.get("best") else ""
    return f"{where}: " + (", ".join(parts) or "no val split") + best


def read_metrics(path: Path) -> list[dict[str, Any]]:
    file = path / "metrics.jsonl"
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


def _series(events: Iterable[dict[str, Any]], key: str, x: str = "step") -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for e in events:
        if key in e and x in e and e[key] is not None:
            xs.append(float(e[x]))
            ys.append(float(e[key]))
    return xs, ys


# What each left-axis series is, in the words the axis label uses.
_LEFT = (
    ("loss", "-", "train loss (nats/token, 10-step mean)"),
    ("train_loss", "-", "train loss (nats/token)"),
    ("val_loss", "--", "val loss (nats/token)"),
    ("mean_reward", "-", "mean sampled reward (0-1)"),
)


def plot_curve(
    events: list[dict[str, Any]], out: Path, title: str, x: str = "step", x_label: str = "step"
) -> Path | None:
    """curve.png: the figure of `curve_figure`, written atomically (None when nothing to draw)."""
    import matplotlib.pyplot as plt

    fig = curve_figure(events, title, x, x_label)
    if fig is None:
        return None
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)
    return out


def curve_figure(events: list[dict[str, Any]], title: str, x: str = "step", x_label: str = "step") -> Any:
    """Training loss (or reward) and val accuracy against steps; each axis says what it plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    mixes = [e for e in events if isinstance(e.get("mixture"), dict) and x in e]
    if mixes:  # a curriculum run: its mixture below the curves, on the same steps
        fig, (left, below) = plt.subplots(2, 1, figsize=(7, 6), dpi=110, sharex=True,
                                          gridspec_kw={"height_ratios": [2, 1]})
        _draw_mixture(below, mixes, x, x_label)
    else:
        fig, left = plt.subplots(figsize=(7, 4), dpi=110)
    drawn = False
    labels = []
    for key, style, label in _LEFT:
        if key == "train_loss" and _series(events, "loss", x)[0]:
            continue  # the 10-step windows already draw the training loss
        xs, ys = _series(events, key, x)
        if xs:
            left.plot(xs, ys, style, label=label, linewidth=1.2)
            labels.append(label)
            drawn = True
    left.set_xlabel(x_label)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps and iterations are whole
    left.set_ylabel("\n".join(labels))
    if not labels:  # only val accuracy (a loop whose iterations kept nothing): no empty loss axis
        left.set_yticks([])
    right = left.twinx()
    xs, ys = _series(events, "val_accuracy", x)
    if xs:
        right.plot(xs, ys, "o-", color="tab:green", label="val accuracy (exact answers)")
        right.set_ylim(0, 1)
        right.set_ylabel("val accuracy (share of exact answers)")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    lines = left.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    left.legend(lines[0] + more[0], lines[1] + more[1], loc="center right", fontsize=8)
    left.set_title(title)
    fig.tight_layout()
    return fig


def _draw_mixture(ax: Any, events: list[dict[str, Any]], x: str, x_label: str) -> None:
    """The curriculum's mixture (train/curriculum.py) as stacked shares, one band per bucket."""
    keys = list(dict.fromkeys(k for e in events for k in e["mixture"]))
    xs = [float(e[x]) for e in events]
    ax.stackplot(xs, [[float(e["mixture"].get(k, 0.0)) for e in events] for k in keys], labels=keys)
    ax.set_ylim(0, 1)
    ax.set_ylabel("curriculum mixture (share)")
    ax.set_xlabel(x_label)
    ax.legend(loc="upper left", fontsize=7, ncol=min(4, len(keys)))


def progress(total: int, desc: str, unit: str = "step", show: bool = True) -> Any:
    """A tqdm bar with an ETA on stderr; silent when stderr is not a terminal and
    TASKLANG_PROGRESS is unset (so logs and tests stay clean), and in every process of a
    multi-process run but the main one (`show`)."""
    from tqdm import tqdm

    visible = show and bars_visible()
    return tqdm(total=total, desc=desc, unit=unit, disable=not visible, dynamic_ncols=True, leave=False)


def bars_visible() -> bool:
    """Progress bars are drawn on a terminal, or anywhere with TASKLANG_PROGRESS=1."""
    return sys.stderr.isatty() or os.environ.get("TASKLANG_PROGRESS") == "1"
