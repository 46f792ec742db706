"""The Python API examples of README.md ("From Python") and docs/LANGUAGE.md (8.1) run as
written, from the repository root, in a fresh interpreter."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .helpers import REPO


def _blocks(doc: str, heading: str) -> list[str]:
    text = (REPO / doc).read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n#", start + len(heading))
    return re.findall(r"```python\n(.*?)```", text[start:end if end != -1 else None], re.S)


EXAMPLES = [("README.md", "### From Python"), ("docs/LANGUAGE.md", "### 8.1 Python API")]


@pytest.mark.parametrize(("doc", "heading"), EXAMPLES)
def test_the_api_examples_run(doc: str, heading: str) -> None:
    blocks = _blocks(doc, heading)
    assert blocks, f"{doc}: no python example under {heading}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for code in blocks:
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, (doc, done.stderr[-2000:])
