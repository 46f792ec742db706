"""Fixtures for the trainer tests: a small compiled dataset and tiny models built offline.

Nothing here touches a model hub: models are `tiny` (built from a config, tokenizer trained
on the dataset) and every test runs on the CPU in seconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the train extra is not installed")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The tiny models multiply 64-wide matrices: one thread is fastest, and torch's default of a
# thread per core makes every step wait on the others when the cores are busy (a 10-step test
# took 25 s on a loaded 2-core machine, 1.4 s with one thread).
torch.set_num_threads(1)

TASK = """
import "{experts}"

pattern hours_pay {{
    let who = pick people
    let wage = int 5..30
    let hours = int 2..9
    template "{{who}} earns ${{wage}} an hour for {{hours}} hours. How much does {{who.subj}} earn?"
    trace rate_equation {{
        init wage
        init hours
        result = mul(wage, hours)
        query result
    }}
}}

pattern left_after {{
    let have = int 20..90
    let gave = int 1..19
    template "A box holds {{have}} pens and {{gave}} are taken. How many pens are left?"
    trace arithmetic {{
        init have
        init gave
        result = sub(have, gave)
        query result
    }}
}}

dataset tiny_train {{
    patterns hours_pay, left_after
    split train 96
    split val 24
    seed 3
    system "Answer with a trace."
    max_length 1024
    max_new_tokens 400
    unique payloads
}}
"""

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "vocab_size": 400,
    "max_position_embeddings": 512,
}


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tasklang.api import LoadOptions, compile_paths

    src = tmp_path_factory.mktemp("task")
    task = src / "tiny.task"
    task.write_text(TASK.format(experts=(ROOT / "tasks" / "gsm" / "experts.task").as_posix()))
    out = tmp_path_factory.mktemp("build")
    # The file imports the shipped experts by absolute path: outside its own folder.
    options = LoadOptions(allow_paths=(ROOT / "tasks" / "gsm",))
    checked, results = compile_paths([str(task)], out, options=options)
    assert checked.ok, [str(d) for d in checked.diagnostics]
    assert results
    return out / "tiny_train"


@pytest.fixture(scope="session")
def records(dataset_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (dataset_dir / "train.jsonl").read_text().splitlines()]


@pytest.fixture
def tiny(records: list[dict]):
    from train.models import TinySpec, build_tiny

    return build_tiny(records, TinySpec(**TINY))


LEVELS = {"left_after": 1, "hours_pay": 2}


@pytest.fixture(scope="session")
def graded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny dataset with `difficulty` on its patterns (LEVELS), for the curriculum."""
    from tasklang.api import LoadOptions, compile_paths

    text = TASK.format(experts=(ROOT / "tasks" / "gsm" / "experts.task").as_posix())
    for name, level in LEVELS.items():
        text = text.replace(f"pattern {name} {{\n", f"pattern {name} {{\n    difficulty {level}\n")
    src = tmp_path_factory.mktemp("graded")
    (src / "graded.task").write_text(text.replace("split train 96", "split train 32"))
    out = tmp_path_factory.mktemp("build")
    checked, _ = compile_paths([str(src / "graded.task")], out,
                               options=LoadOptions(allow_paths=(ROOT / "tasks" / "gsm",)))
    assert checked.ok, [str(d) for d in checked.diagnostics]
    return out / "tiny_train"
