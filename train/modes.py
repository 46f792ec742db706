"""What a run trains: everything (`full`), LoRA adapters (`lora`), or the last N decoder
layers plus lm_head (`last-n`).

Notes 002 trained TinyLlama with 6 unfrozen layers + lm_head; notes 003 saw full
fine-tuning forget what the base model knew. `last-n` unties lm_head from the input
embeddings first: with tied weights, "training lm_head" would silently move the embeddings
of every layer's input too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

MODES = ("full", "lora", "last-n")


class ModeError(Exception):
    pass


@dataclass(frozen=True)
class ModeSpec:
    mode: str = "full"
    last_n: int = 6
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0


def decoder_layers(model: Any) -> Any:
    """The model's stack of decoder layers (Llama, Qwen, Mistral, GPT-2 style)."""
    inner = getattr(model, "model", None) or getattr(model, "transformer", None)
    for name in ("layers", "h"):
        layers = getattr(inner, name, None)
        if layers is not None:
            return layers
    raise ModeError(f"last-n: cannot find the decoder layers of {type(model).__name__}")


def untie_lm_head(model: Any) -> None:
    head = model.get_output_embeddings()
    if head is None:
        raise ModeError(f"last-n: {type(model).__name__} has no lm_head")
    if head.weight is model.get_input_embeddings().weight:
        head.weight = torch.nn.Parameter(head.weight.detach().clone())
    model.config.tie_word_embeddings = False
    if hasattr(model.config, "get_text_config"):
        model.config.get_text_config().tie_word_embeddings = False


def apply_mode(model: Any, spec: ModeSpec) -> Any:
    """Freeze / wrap `model` for `spec.mode`; returns the model to train."""
    if spec.mode == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    if spec.mode == "last-n":
        untie_lm_head(model)
        layers = decoder_layers(model)
        if not 1 <= spec.last_n <= len(layers):
            raise ModeError(f"--last-n {spec.last_n}: the model has {len(layers)} layers")
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in list(layers)[-spec.last_n :]:
            for p in layer.parameters():
                p.requires_grad_(True)
        for p in model.get_output_embeddings().parameters():
            p.requires_grad_(True)
        norm = getattr(getattr(model, "model", None), "norm", None)
        if norm is not None:  # the final norm sits between the last layer and lm_head
            for p in norm.parameters():
                p.requires_grad_(True)
        return model
    if spec.mode == "lora":
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=spec.lora_r,
            lora_alpha=spec.lora_alpha,
            lora_dropout=spec.lora_dropout,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
        return get_peft_model(model, config)
    raise ModeError(f"unknown mode {spec.mode!r}; choose one of {', '.join(MODES)}")


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """The parameters a run changes (what `last/` keeps for a resume)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [name for name in state if name not in params]
    if missing:
        raise ModeError(f"resume: the saved state does not match this model ({missing[0]} is unknown)")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)
