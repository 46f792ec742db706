"""Where the tests find GSM8K: a 500-problem sample in tests/data (always there), and the full
training split when it is present.

A fresh clone has only the sample: tests that need GSM8K text read it. The floors measured on
the full split (a fraction over 7,473 problems) need the full file: `$TASKLANG_GSM8K`, else
`../shared/data/gsm8k_train.jsonl` beside the repository. Without it they are skipped with
that reason; with `TASKLANG_REQUIRE_FULL=1` (what `.ci/run` sets) the skip is a failure, so
CI cannot pass without having run them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "gsm8k_train_sample.jsonl"
SAMPLE_SIZE = 500
FULL_SIZE = 7473


def full_path() -> Path:
    """Where the full training split is looked for (it may be missing)."""
    env = os.environ.get("TASKLANG_GSM8K")
    return Path(env) if env else REPO.parent / "shared" / "data" / "gsm8k_train.jsonl"


def require_full() -> Path:
    """The full training split, or skip the calling test (fail under TASKLANG_REQUIRE_FULL=1)."""
    path = full_path()
    if path.is_file():
        return path
    reason = (f"full GSM8K train split not found at {path} (set TASKLANG_GSM8K to "
              "gsm8k_train.jsonl); this floor is measured on the full split")
    if os.environ.get("TASKLANG_REQUIRE_FULL") == "1":
        pytest.fail(reason + " and TASKLANG_REQUIRE_FULL=1", pytrace=False)
    pytest.skip(reason)


def reference() -> Path:
    """The full split when it is present, else the sample (tests that need some GSM8K text)."""
    path = full_path()
    return path if path.is_file() else SAMPLE
