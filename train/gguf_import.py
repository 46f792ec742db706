"""GGUF file -> a standard transformers model directory (`tasklang model import-gguf`).

transformers reads GGUF itself (`from_pretrained(dir, gguf_file=...)`, through the `gguf`
package), dequantising every tensor to float; what it cannot do is save the result: the
loaded model carries a GGUF quantisation config and `save_pretrained` refuses it. So the
weights are moved into a model built from the same config without that entry, and that
model is saved: config.json, model.safetensors, generation_config.json, and the tokenizer
with its chat template. The directory is written the compiler's way (tasklang.files):
staged beside OUT and switched in whole, so a killed import never leaves half a model.

The module is named gguf_import, not gguf, so that `import gguf` here and in transformers
always means the package.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .locate import is_gguf_file
from .models import ModelError, parameter_count

PROVENANCE = "tasklang_import.json"  # marks a directory this command wrote (and may replace)


@dataclass(frozen=True)
class Imported:
    out: str
    source: str
    sha256: str
    architecture: str
    parameters: int
    vocab_size: int
    chat_template: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_source(path: Path) -> None:
    """ModelError unless `path` is a readable file that starts with the GGUF magic."""
    if not path.exists():
        raise ModelError(f"{path}: no such file")
    if path.is_dir():
        raise ModelError(f"{path}: a directory, not a GGUF file")
    if not is_gguf_file(path):
        raise ModelError(f"{path}: not a GGUF file (it does not start with the bytes 'GGUF')")


def gguf_architecture(path: Path) -> str:
    """`general.architecture` of a GGUF file, read without loading a tensor."""
    try:
        from gguf import GGUFReader
    except ImportError:
        raise ModelError("import-gguf needs the gguf package: pip install 'tasklang[train]'") from None
    try:
        field = GGUFReader(path).fields.get("general.architecture")
        return str(field.contents()) if field is not None else "(none)"
    except (ValueError, OSError, IndexError, KeyError) as err:
        raise ModelError(f"{path}: a damaged GGUF file ({err})") from None


def check_out(out: Path) -> None:
    """Replace only what this command wrote: an existing OUT must be empty or an import, and
    its folder writable (OUT is staged beside it), known before the minute of dequantising."""
    from tasklang.files import check_writable

    if out.exists() and not out.is_dir():
        raise ModelError(f"-o {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / PROVENANCE).is_file():
        raise ModelError(f"-o {out}: a directory that import-gguf did not write; remove it or choose another")
    check_writable(out.parent, shown=out)


def _unsupported(path: Path, architecture: str) -> ModelError:
    import transformers
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    known = ", ".join(a for a in GGUF_SUPPORTED_ARCHITECTURES if a not in ("general", "tokenizer"))
    return ModelError(
        f"{path}: architecture {architecture!r} is not supported by the GGUF loader of "
        f"transformers {transformers.__version__} (it reads {known})"
    )


@contextmanager
def loader_bar_on_terminals_only() -> Iterator[None]:
    """transformers' GGUF loader draws its own tqdm bar ("Converting and de-quantizing GGUF
    tensors..."), from tqdm itself, which transformers' switch for its progress bars does not
    reach: in a log or a pipe it is a run of carriage returns. It is drawn where tasklang's
    own bars are (train.runs.bars_visible); tasklang's "importing ..." line always is."""
    import transformers.modeling_gguf_pytorch_utils as loader

    from .runs import bars_visible

    if bars_visible():
        yield
        return
    bar = loader.tqdm
    loader.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        loader.tqdm = bar


def load_gguf(path: Path, architecture: str) -> tuple[Any, Any]:
    """The dequantised float32 model, rebuilt without its quantisation config, and the tokenizer."""
    with loader_bar_on_terminals_only():
        return _load_gguf(path, architecture)


def _load_gguf(path: Path, architecture: str) -> tuple[Any, Any]:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    where = {"pretrained_model_name_or_path": str(path.parent), "gguf_file": path.name}
    try:
        config = AutoConfig.from_pretrained(**where)
    except ValueError as err:
        if "not supported" in str(err):
            raise _unsupported(path, architecture) from None
        raise ModelError(f"{path}: cannot read its config: {err}") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(**where)
        loaded = AutoModelForCausalLM.from_pretrained(**where, dtype=torch.float32)
    except KeyError as err:  # the tokenizer or config converter looked up a field it lacks
        raise ModelError(f"{path}: cannot load it: it lacks the entry {err.args[0]!r}") from None
    except (ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        raise ModelError(f"{path}: cannot load it: {first}") from None
    return plain_copy(loaded, config), tokenizer


def plain_copy(loaded: Any, config: Any) -> Any:
    """A model of `config` (no quantisation entry) holding `loaded`'s weights: saveable."""
    from transformers import AutoModelForCausalLM

    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):  # no random init of weights that are replaced at once
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), assign=True)
    model.tie_weights()
    model.generation_config = loaded.generation_config
    model.eval()
    return model


def import_gguf(source: Path, out: Path) -> Imported:
    """Write the model directory `out` from the GGUF file `source`; ModelError if it cannot."""
    from tasklang.files import sha256_file, staged_output

    check_source(source)
    check_out(out)
    architecture = gguf_architecture(source)
    model, tokenizer = load_gguf(source, architecture)
    result = Imported(
        out=str(out),
        source=source.name,
        sha256=sha256_file(source),
        architecture=str(model.config.model_type),
        parameters=parameter_count(model),
        vocab_size=int(model.config.vocab_size),
        chat_template=bool(getattr(tokenizer, "chat_template", None)),
    )
    with staged_output(out.parent, shown=out, names=[out.name]) as staging:
        tmp = staging.dir / out.name
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        provenance = {"tool": "tasklang", "command": "model import-gguf", **result.to_json()}
        (tmp / PROVENANCE).write_text(json.dumps(provenance, indent=1, sort_keys=True) + "\n")
        staging.commit([out.name])
    return result
