"""Models and tokenizers: a hub id or a local path (real users), a run directory, or `tiny`.

`tiny` is the offline model every test and demo uses: a small Llama-config model built
from a config, with a byte-level BPE tokenizer trained here on the dataset's own text.
Its conventions are the ones the notes learned to check on real models:
- pad is its own token, never eos (a pad == eos tokenizer teaches the model to stop
  learning eos when padding is masked out);
- eos is the end-of-turn token, so a generation stops where a turn ends;
- left padding for generation;
- the chat template marks the assistant's turn with `{% generation %}` so
  `return_assistant_tokens_mask` works, and the prompt it renders with
  `add_generation_prompt` is a prefix of prompt + completion (checked for every example).
Digits are split one per token: the model copies numbers from the question into the trace,
and digit-level tokens make copying a number one skill instead of one per number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

PAD, EOT = "<|pad|>", "<|eot|>"
ROLES = ("system", "user", "assistant")
ROLE_TOKENS = tuple(f"<|{role}|>" for role in ROLES)

TINY_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "<|assistant|>{% generation %}{{ message['content'] }}<|eot|>{% endgeneration %}"
    "{%- else -%}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|eot|>"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}"
)


class ModelError(Exception):
    """A model or tokenizer that cannot be loaded or built; the message says why."""


@dataclass(frozen=True)
class TinySpec:
    """Shape of the offline `tiny` model (about 3M parameters at the defaults)."""

    hidden_size: int = 256
    intermediate_size: int = 704
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    vocab_size: int = 1024
    max_position_embeddings: int = 1024
    seed: int = 0

    @classmethod
    def from_json(cls, text: str | None) -> TinySpec:
        """The spec `--tiny-config` gives: a JSON object of some of the fields, each a whole
        number (at least 1; the seed at least 0). Anything else is ModelError, in one line."""
        if not text:
            return cls()
        fields = ", ".join(sorted(asdict(cls())))
        try:
            given = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as err:
            why = err.msg if isinstance(err, json.JSONDecodeError) else "nested too deeply"
            example = '{"num_hidden_layers": 2}'
            raise ModelError(f"--tiny-config: not JSON ({why}); e.g. '{example}'") from None
        if not isinstance(given, dict):
            raise ModelError(f"--tiny-config: a JSON object of some of {fields}, not {text!r}")
        unknown = ", ".join(sorted(set(given) - set(asdict(cls()))))
        if unknown:
            raise ModelError(f"--tiny-config: no field {unknown}; the fields are {fields}")
        bad = ", ".join(sorted(k for k, v in given.items() if isinstance(v, bool)
                               or not isinstance(v, int) or v < (0 if k == "seed" else 1)))
        if bad:
            raise ModelError(f"--tiny-config: {bad}: a whole number of at least 1 (seed: 0) is needed")
        return cls(**given)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> Any:
    """A byte-level BPE tokenizer trained on `texts`, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOT, *ROLE_TOKENS],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOT,
        pad_token=PAD,
        padding_side="left",
        chat_template=TINY_CHAT_TEMPLATE,
        model_max_length=1 << 20,
    )


def record_texts(records: Iterable[dict[str, Any]]) -> Iterable[str]:
    """Every message content of compiled records: what a tiny tokenizer is trained on."""
    for record in records:
        for message in (*record.get("prompt", ()), *record.get("completion", ())):
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                yield content


def build_tiny(records: list[dict[str, Any]], spec: TinySpec = TinySpec()) -> tuple[Any, Any]:
    """The offline model: tokenizer trained on `records`, Llama weights from `spec.seed`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(record_texts(records), spec.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        # Untied, so `last-n` can train lm_head without moving the input embeddings.
        tie_word_embeddings=False,
    )
    torch.manual_seed(spec.seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer


def load_pretrained(spec: str, dtype: Any = None) -> tuple[Any, Any]:
    """A hub id, a local model directory, or a run directory, with its tokenizer
    (train.locate decides which, and refuses a missing path or an unreachable hub at once).
    `dtype`: the weights' torch dtype (default fp32, what training needs); evaluation loads in
    its placement's dtype, so a bf16 eval of a 1B model never holds fp32 weights."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .locate import LocateError, locate

    try:
        source = locate(spec)
    except LocateError as err:
        raise ModelError(str(err)) from None
    if source.kind == "tiny":
        raise ModelError("--model tiny is built from a dataset, not loaded: use models.load")
    where, extra = source.where, {"local_files_only": True} if source.cache_only else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **extra)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype or torch.float32, **extra)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"cannot load model {spec!r}: {first}") from None
    prepare_tokenizer(tokenizer, model)
    return model, tokenizer


def prepare_tokenizer(tokenizer: Any, model: Any) -> None:
    """Give a real model's tokenizer the conventions above where it lacks them: left
    padding, and a pad token distinct from eos (added and the embeddings resized)."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None or tokenizer.pad_token_id == tokenizer.eos_token_id:
        tokenizer.add_special_tokens({"pad_token": PAD})
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        if model.generation_config.eos_token_id is None:
            model.generation_config.eos_token_id = tokenizer.eos_token_id


def load(
    spec: str, records: list[dict[str, Any]] | None = None, tiny: TinySpec = TinySpec(),
    dtype: Any = None,
) -> tuple[Any, Any]:
    """`tiny` (needs the training records for its tokenizer) or anything `load_pretrained` takes
    (in `dtype`; `tiny` is built in fp32 and cast by devices.place)."""
    if spec == "tiny":
        if not records:
            raise ModelError("--model tiny trains its tokenizer on the dataset: no records given")
        return build_tiny(records, tiny)
    return load_pretrained(spec, dtype)


def parameter_count(model: Any, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def save(model: Any, tokenizer: Any, where: Path, weights: dict[str, Any] | None = None) -> None:
    """A checkpoint any `from_pretrained` can load (LoRA weights merged; the adapter alone
    is saved beside it by the trainer). `weights`: the full state dict gathered from a model
    sharded over processes (its own parameters are only this process's slices)."""
    where.mkdir(parents=True, exist_ok=True)
    if weights is not None:
        whole_model(model.config, weights).save_pretrained(where)
        tokenizer.save_pretrained(where)
        return
    to_save = model
    if hasattr(model, "merge_and_unload"):
        import copy

        to_save = copy.deepcopy(model).merge_and_unload()
    to_save.save_pretrained(where)
    tokenizer.save_pretrained(where)


def whole_model(config: Any, weights: dict[str, Any]) -> Any:
    """An ordinary model holding `weights` (no copy: built on the meta device, then given the
    tensors). save_pretrained on the sharded model itself, even with state_dict=, reads its
    DTensor slices."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(weights, strict=True, assign=True)
    model.tie_weights()
    return model
