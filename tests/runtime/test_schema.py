"""The JSON Schema shipped with the package is the one generated from the step models."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from typing import Any

import jsonschema
from hypothesis import given, settings

from runtime import STEP_TYPES, from_data, render
from runtime.extract import fast_load
from runtime.schema import shipped_schema, trace_json_schema

from . import strategies as gen
from .helpers import HOUSE, JANET


def _jsonable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_jsonable(v) for v in data]
    if isinstance(data, Fraction):
        return int(data) if data.denominator == 1 else float(data)
    return data


def test_shipped_schema_is_up_to_date() -> None:
    assert shipped_schema() == json.loads(json.dumps(trace_json_schema())), (
        "regenerate: python -m runtime.schema > runtime/trace.schema.json")


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(shipped_schema())


def test_schema_lists_every_registered_op() -> None:
    defs = shipped_schema()["$defs"]
    ops = {d["properties"]["op"]["const"] for d in defs.values() if "op" in d.get("properties", {})}
    assert ops == set(STEP_TYPES)


def test_examples_validate_and_broken_ones_do_not() -> None:
    validator = jsonschema.Draft202012Validator(shipped_schema())
    for text in (JANET, HOUSE):
        assert not list(validator.iter_errors(_jsonable(fast_load(text))))
    broken = _jsonable(fast_load(JANET))
    del broken["trace"][0]["value"]  # init with neither value nor source
    assert list(validator.iter_errors(broken))
    broken = _jsonable(fast_load(JANET))
    broken["trace"][2]["op"] = "add"  # an invented op
    assert list(validator.iter_errors(broken))


@settings(max_examples=60, deadline=None)
@given(gen.single_traces() | gen.composed_traces())
def test_every_generated_trace_and_its_rendering_validate(gt: gen.GenTrace) -> None:
    validator = jsonschema.Draft202012Validator(shipped_schema())
    assert not list(validator.iter_errors(_jsonable(gt.data())))
    trace = from_data(gt.data())
    assert not list(validator.iter_errors(_jsonable(fast_load(render(trace)))))  # type: ignore[arg-type]


def test_import_runtime_pulls_in_no_torch_tasklang_or_train() -> None:
    code = ("import sys, runtime; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'tasklang', 'train', 'transformers')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
