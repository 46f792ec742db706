"""`tasklang model import-gguf`: models prepared for `train` and `eval` (needs the train extra).

Like train/cli.py, importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .cli import _quiet_transformers, _user_errors


@click.group("model")
def model_group() -> None:
    """Prepare models for `train` and `eval` (needs the `train` extra)."""


@model_group.command("import-gguf")
@click.argument("source", type=click.Path())  # a missing one is a one-line error: exit 1
@click.option(
    "-o", "--out", required=True, type=click.Path(file_okay=False), help="The model directory to write."
)
def import_gguf_cmd(source: str, out: str) -> None:
    """Convert a GGUF file into a transformers model directory (config, model.safetensors,
    tokenizer, chat template) that `--model DIR` loads. Quantised weights are dequantised
    to float32."""
    with _user_errors():
        _quiet_transformers()
        from .gguf_import import check_out, check_source, import_gguf

        check_source(Path(source))  # a mistake is one line, not "importing ..." and then one
        check_out(Path(out))
        click.echo(f"importing {source} (dequantising; about 20 s per 100M parameters)", err=True)
        result = import_gguf(Path(source), Path(out))
        click.echo(json.dumps(result.to_json(), sort_keys=True))
        click.echo(f"model directory: {out} (use it as --model {out})", err=True)
