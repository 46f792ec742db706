"""Compiled records -> token ids with completion-only labels, batches, and packing.

The loss is on the completion only. Rather than trusting a template's generation marks,
every example is checked: the tokenized prompt (rendered with the generation prompt) must be
a prefix of the tokenized prompt + completion, else the labels would be shifted by a token
and the model trained on its own prompt (a classic silent SFT bug). The completion's
end-of-turn token is labelled, so the model learns to stop.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

IGNORE = -100
PROMPT_FORMATS = ("chat", "plain")
PACK_FACTOR = 4
# New tokens per answer when neither the user nor a dataset manifest gives a budget.
DEFAULT_MAX_NEW_TOKENS = 256


class DataError(Exception):
    """Bad data files or records; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    @property
    def completion_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def read_records(path: Path) -> list[dict[str, Any]]:
    """A JSONL file of compiled records; DataError with file:line for a bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise DataError(f"{path}: cannot read: {err.strerror or err}") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: not JSON: {err.msg}") from None
        if not isinstance(record, dict) or not isinstance(record.get("prompt"), list):
            raise DataError(f"{path}:{number}: not a compiled record (no prompt messages)")
        records.append(record)
    if not records:
        raise DataError(f"{path}: no records")
    return records


def split_file(data: Path, split: str) -> Path:
    """`DIR/<split>.jsonl` for a compiled dataset directory, or the file itself."""
    if data.is_dir():
        path = data / f"{split}.jsonl"
        if not path.is_file():
            raise DataError(f"{data}: no {split}.jsonl (is this a `tasklang compile` output directory?)")
        return path
    if not data.is_file():
        raise DataError(f"{data}: no such file or directory")
    return data


def eval_split(data: Path, split: str | None) -> tuple[Path, str | None]:
    """The file eval reads and the split it is: `split` of a dataset directory, by default
    `test` when the directory has one, else `val`; a JSONL file is itself (split None)."""
    if not data.is_dir():
        if split is not None:
            raise DataError(f"{data}: --split names a split of a dataset directory, not of a file")
        return split_file(data, "val"), None
    chosen = split or ("test" if (data / "test.jsonl").is_file() else "val")
    if not (data / f"{chosen}.jsonl").is_file():
        have = ", ".join(sorted(p.stem for p in data.glob("*.jsonl"))) or "none"
        raise DataError(f"{data}: no split {chosen} ({chosen}.jsonl); its splits: {have}")
    return data / f"{chosen}.jsonl", chosen


@dataclass(frozen=True)
class Budget:
    """New tokens per answer, and where that number came from (eval prints both)."""

    tokens: int
    source: str


def _manifest(data: Path) -> tuple[Path, dict[str, Any]] | None:
    path = data / "manifest.json" if data.is_dir() else data.parent / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (path, manifest) if isinstance(manifest, dict) else None


def _manifest_budget(path: Path, manifest: dict[str, Any], split: str | None) -> Budget | None:
    settings = manifest.get("settings")
    if isinstance(settings, dict) and isinstance(settings.get("max_new_tokens"), int):
        return Budget(settings["max_new_tokens"], f"{path} settings.max_new_tokens")
    # An imported dataset declares no budget: its longest completion, counted per split.
    tokens = manifest.get("tokens")
    stats = tokens.get(split or "val") if isinstance(tokens, dict) else None
    longest = stats.get("completion", {}).get("max") if isinstance(stats, dict) else None
    if not isinstance(longest, int | float) or longest <= 0:
        return None
    # The count is exact (a real tokenizer) or an upper bound (UTF-8 bytes, which bound any
    # byte-level BPE): either way the longest completion plus its eos is a safe cap.
    exact = (manifest.get("token_counting") or {}).get("exact")
    how = "" if exact else ", counted as UTF-8 bytes (an upper bound)"
    return Budget(int(longest) + 1, f"{path} tokens.{split or 'val'}.completion.max + eos{how}")


def budget(explicit: int | None, data: Path, split: str | None = None) -> Budget:
    """New tokens per answer: what the user asked, else the dataset manifest's (a compiled
    dataset's `max_new_tokens`, an imported one's longest completion), else the default. The
    one home of this rule: eval, SFT validation, RL and the loop all go through it."""
    if explicit:
        return Budget(explicit, "--max-new-tokens")
    found = _manifest(data)
    if found is not None:
        from_manifest = _manifest_budget(*found, split)
        if from_manifest is not None:
            return from_manifest
    return Budget(DEFAULT_MAX_NEW_TOKENS, f"the default ({data} has no manifest with a budget)")


def generation_budget(explicit: int | None, data: Path) -> int:
    """`budget(...)` in tokens (the trainers log the number; eval also says its source)."""
    return budget(explicit, data).tokens


def load_splits(data: Path, train_split: str = "train") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training records, val records) of a compiled dataset directory; a single file is
    training records only. `train_split` names the split that training reads: RL and the
    self-improvement loop may sample prompts from a split the compiler kept apart from train
    and val (`split rl 2000` in the dataset), never from val itself."""
    if train_split == "val":
        raise DataError(
            "val is what checkpoints are chosen on: training on its prompts would "
            "make val accuracy meaningless; declare another split (`split rl N`)"
        )
    train = read_records(split_file(data, train_split))
    # A directory without val (`tasklang import gsm8k` without --split-val) trains as its
    # train.jsonl alone would: no val loss, no checkpoint choice on val accuracy.
    has_val = data.is_dir() and (data / "val.jsonl").is_file()
    val = read_records(split_file(data, "val")) if has_val else []
    return train, val


def user_text(record: dict[str, Any]) -> str:
    return next((m["content"] for m in record["prompt"] if m.get("role") == "user"), "")


def target_text(record: dict[str, Any]) -> str:
    completion = record.get("completion") or []
    return completion[-1]["content"] if completion else ""


def prompt_ids(tokenizer: Any, record: dict[str, Any], prompt_format: str) -> list[int]:
    """What the model sees before it answers, as token ids."""
    if prompt_format == "chat":
        ids = tokenizer.apply_chat_template(
            record["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False
        )
        return list(ids)
    # notes 001: base models follow a plain cue; measure them with it before training.
    system = next((m["content"] for m in record["prompt"] if m.get("role") == "system"), "")
    head = f"{system}\n\n" if system else ""
    return list(
        tokenizer(f"{head}Instruction: {user_text(record)}\nResponse:", add_special_tokens=False)["input_ids"]
    )


def encode(tokenizer: Any, record: dict[str, Any], prompt_format: str = "chat") -> Example:
    """One record -> ids and labels (-100 on the prompt). DataError if the prompt is not a
    prefix of the full sequence or the completion does not end with eos."""
    prompt = prompt_ids(tokenizer, record, prompt_format)
    if prompt_format == "chat":
        full = list(
            tokenizer.apply_chat_template(
                record["prompt"] + record["completion"], tokenize=True, return_dict=False
            )
        )
    else:
        tail = tokenizer(" " + target_text(record), add_special_tokens=False)["input_ids"]
        full = prompt + list(tail) + [tokenizer.eos_token_id]
    if full[: len(prompt)] != prompt:
        raise DataError(
            f"record {record.get('id', '?')}: the tokenized prompt is not a prefix of "
            "prompt + completion; the chat template changes the prompt when a reply follows"
        )
    eos = tokenizer.eos_token_id
    if eos not in full[len(prompt) :]:
        raise DataError(
            f"record {record.get('id', '?')}: the completion has no eos token; "
            "the model would never learn to stop"
        )
    # Train on the completion up to and including its last eos; a template's trailing
    # newline after eos is context, not something to learn.
    end = len(full) - full[::-1].index(eos)
    labels = [IGNORE] * len(prompt) + full[len(prompt) : end] + [IGNORE] * (len(full) - end)
    return Example(tuple(full), tuple(labels))


def encode_all(
    tokenizer: Any,
    records: Sequence[dict[str, Any]],
    prompt_format: str = "chat",
    max_length: int | None = None,
) -> list[Example]:
    examples = [encode(tokenizer, r, prompt_format) for r in records]
    if max_length is not None:
        longest = max(len(e.input_ids) for e in examples)
        if longest > max_length:
            raise DataError(
                f"an example is {longest} tokens, over --max-length {max_length}: "
                "refusing to truncate a target (raise --max-length)"
            )
    return examples


@dataclass(frozen=True)
class Batch:
    input_ids: torch.Tensor
    labels: torch.Tensor
    attention_mask: torch.Tensor | None
    position_ids: torch.Tensor | None
    real_tokens: int  # tokens that are not padding

    def to(self, device: Any) -> Batch:
        """The batch's tensors on `device` (built on the CPU, moved once per step)."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        return Batch(
            self.input_ids.to(device, non_blocking=True),
            self.labels.to(device, non_blocking=True),
            move(self.attention_mask),
            move(self.position_ids),
            self.real_tokens,
        )

    @property
    def label_tokens(self) -> int:
        """Tokens the loss is taken on (labels shift by one: position 0 predicts nothing)."""
        return int((self.labels[:, 1:] != IGNORE).sum())

    def select(self, rows: Sequence[int]) -> Batch:
        """Some of the batch's rows (a process's share of a global batch)."""
        index = torch.tensor(list(rows), dtype=torch.long)

        def pick(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[index]

        ids, labels = self.input_ids[index], self.labels[index]
        mask = pick(self.attention_mask)
        real = int(mask.sum()) if mask is not None else int((labels != IGNORE).sum())
        return Batch(ids, labels, mask, pick(self.position_ids), real)

    def model_inputs(self) -> dict[str, Any]:
        # No KV cache: training never reuses it, and transformers only turns packed position
        # ids into a block-diagonal mask when there is no cache.
        inputs: dict[str, Any] = {"input_ids": self.input_ids, "use_cache": False}
        if self.attention_mask is not None:
            inputs["attention_mask"] = self.attention_mask
        if self.position_ids is not None:
            inputs["position_ids"] = self.position_ids
        return inputs


def token_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum (not mean) of the next-token cross-entropies on labelled positions, in fp32: the
    caller divides by the global batch's token count, so shares of a batch add up exactly."""
    shifted = logits[:, :-1].float()
    return torch.nn.functional.cross_entropy(
        shifted.reshape(-1, shifted.shape[-1]),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )


def pad_batch(examples: Sequence[Example], pad_id: int) -> Batch:
    """Right-padded batch (training needs no left padding; generation does its own)."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, ex in enumerate(examples):
        n = len(ex.input_ids)
        ids[row, :n] = torch.tensor(ex.input_ids)
        labels[row, :n] = torch.tensor(ex.labels)
        mask[row, :n] = 1
    return Batch(ids, labels, mask, None, sum(len(e.input_ids) for e in examples))


def pack(examples: Sequence[Example], width: int) -> list[list[Example]]:
    """First-fit-decreasing bins of total length <= width (an example longer than width
    gets a bin of its own)."""
    bins: list[list[Example]] = []
    room: list[int] = []
    for ex in sorted(examples, key=lambda e: -len(e.input_ids)):
        n = len(ex.input_ids)
        for i, free in enumerate(room):
            if n <= free:
                bins[i].append(ex)
                room[i] -= n
                break
        else:
            bins.append([ex])
            room.append(width - n)
    return bins


def packed_batch(rows: Sequence[Sequence[Example]], pad_id: int) -> Batch:
    """Several examples per row, kept apart: positions restart at 0 for each example and no
    2D attention mask is passed, so transformers builds a block-diagonal causal mask from
    the position ids (an example never attends to its neighbour). The padding tail is its
    own block with positions from 0 and no labels."""
    width = max(sum(len(e.input_ids) for e in row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    real = 0
    for r, row in enumerate(rows):
        at = 0
        for ex in row:
            n = len(ex.input_ids)
            ids[r, at : at + n] = torch.tensor(ex.input_ids)
            labels[r, at : at + n] = torch.tensor(ex.labels)
            positions[r, at : at + n] = torch.arange(n)
            at += n
        positions[r, at:] = torch.arange(width - at)
        real += at
    return Batch(ids, labels, None, positions, real)


def batches(
    examples: Sequence[Example],
    batch_size: int,
    pad_id: int,
    rng: random.Random,
    packing: bool = False,
    pack_width: int | None = None,
) -> Iterator[Batch]:
    """One pass over `examples` in a shuffled order. With packing, rows of about
    `batch_size` examples' worth of tokens each."""
    order = list(examples)
    rng.shuffle(order)
    if not packing:
        for start in range(0, len(order), batch_size):
            yield pad_batch(order[start : start + batch_size], pad_id)
        return
    longest = max(len(e.input_ids) for e in order)
    # Rows of PACK_FACTOR longest examples: room to fill the gaps that short examples leave.
    width = pack_width or PACK_FACTOR * longest
    rows = pack(order, width)
    rng.shuffle(rows)
    # About the same token budget per step as the unpacked batch.
    per_step = max(1, batch_size * longest // width)
    for start in range(0, len(rows), per_step):
        yield packed_batch(rows[start : start + per_step], pad_id)


def padding_waste(batch: Batch) -> float:
    """Share of the batch's positions that are padding."""
    total = batch.input_ids.numel()
    return 1.0 - batch.real_tokens / total if total else 0.0
