"""Shared fixtures of the tasklang tests: the repository root as working directory.

Diagnostics and manifests name files relative to the working directory, so every
test runs from the repository root, wherever pytest was started.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(REPO)
    yield
