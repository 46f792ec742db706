"""The JSON Schema of the trace format, generated from the step models and shipped with the package.

Regenerate the shipped copy with `python -m runtime.schema > runtime/trace.schema.json`;
a test fails when the two drift apart.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .ops import STEP_TYPES
from .trace import trace_adapter

SCHEMA_ID = "https://tasklang.dev/schemas/trace.schema.json"


def _tighten(defs: dict[str, Any]) -> None:
    """pydantic marks `op` optional (it has a default); in the wire format it is required."""
    tags = {cls.__name__: tag for tag, cls in STEP_TYPES.items()}
    for name, schema in defs.items():
        if name not in tags:
            continue
        schema["properties"]["op"].pop("default", None)
        schema["required"] = ["op", *[r for r in schema.get("required", []) if r != "op"]]
        if name == "InitStep":
            schema["oneOf"] = [{"required": ["value"]}, {"required": ["source"]}]


def trace_json_schema() -> dict[str, Any]:
    """A draft 2020-12 schema for one trace mapping or a composed list of them."""
    schema = trace_adapter().json_schema(by_alias=True)
    _tighten(schema.get("$defs", {}))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "tasklang trace",
        "description": "What a model writes: {expert, trace: [steps]} or a list of them "
        "(composition, later sub-traces reading `source: prev.result`).",
        **schema,
    }


def shipped_schema() -> dict[str, Any]:
    """The schema file that ships inside the package."""
    text = resources.files("runtime").joinpath("trace.schema.json").read_text("utf-8")
    return json.loads(text)


def main() -> None:
    print(json.dumps(trace_json_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
