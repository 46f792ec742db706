"""Run directories: config, metrics, checkpoints, a learning curve, progress bars.

A run directory holds `config.json` (everything needed to reproduce it), `metrics.jsonl`
(one JSON object per logged event, appended and flushed, so a crashed run keeps its
history), `checkpoint/` (the selected model, loadable by `from_pretrained`), `last/` (the
state a resumed run continues from) and `curve.png`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tasklang import __version__
from tasklang.files import write_text_atomic


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")


class Run:
    def __init__(self, path: Path, config: dict[str, Any], resume: bool = False) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        if not resume and (path / "metrics.jsonl").exists():
            (path / "metrics.jsonl").unlink()
        write_json_atomic(path / "config.json", {**config, "tool": "tasklang", "version": __version__})
        self.started = time.time()

    def log(self, **event: Any) -> None:
        event = {"time_s": round(time.time() - self.started, 2), **event}
        with (self.path / "metrics.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(event, sort_keys=True, default=float) + "\n")

    def metrics(self) -> list[dict[str, Any]]:
        return read_metrics(self.path)

    def plot(self, title: str) -> Path | None:
        return plot_curve(self.metrics(), self.path / "curve.png", title)


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


def plot_curve(events: list[dict[str, Any]], out: Path, title: str, x: str = "step") -> Path | None:
    """Training loss (or reward) and val accuracy against steps, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, left = plt.subplots(figsize=(7, 4), dpi=110)
    drawn = False
    for key, style in (("loss", "-"), ("val_loss", "--"), ("mean_reward", "-")):
        xs, ys = _series(events, key, x)
        if xs:
            left.plot(xs, ys, style, label=key, linewidth=1.2)
            drawn = True
    left.set_xlabel(x)
    left.set_ylabel("loss / reward")
    right = left.twinx()
    xs, ys = _series(events, "val_accuracy", x)
    if xs:
        right.plot(xs, ys, "o-", color="tab:green", label="val_accuracy")
        right.set_ylim(0, 1)
        right.set_ylabel("val accuracy")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    lines = left.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    left.legend(lines[0] + more[0], lines[1] + more[1], loc="center right", fontsize=8)
    left.set_title(title)
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)
    return out


def progress(total: int, desc: str, unit: str = "step") -> Any:
    """A tqdm bar on stderr; silent when stderr is not a terminal and TASKLANG_PROGRESS is unset,
    so logs and tests stay clean."""
    from tqdm import tqdm

    show = sys.stderr.isatty() or os.environ.get("TASKLANG_PROGRESS") == "1"
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, dynamic_ncols=True, leave=False)
