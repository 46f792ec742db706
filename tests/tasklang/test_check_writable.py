"""tasklang.files.check_writable: an output that cannot be written is found before the work,
and checking never changes the tree."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasklang.exits import OutputUnwritable
from tasklang.files import check_writable

# A small tree: some names are folders, "f" and "g" are files; a path walks through it.
NAMES = st.sampled_from(["a", "b", "f", "g", "new"])


def _tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "f").write_text("x")
    (root / "a" / "g").write_text("y")


def _entries(root: Path) -> list[tuple[str, bytes | None]]:
    """Every entry under root, folders too (an empty probe folder left behind would show)."""
    return [(str(p.relative_to(root)), p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))]


def _blocked(root: Path, parts: list[str]) -> bool:
    """Whether a file stands where the path needs a folder (its nearest existing ancestor)."""
    at = root
    for part in parts:
        if at.is_file():
            return True
        at = at / part
        if not at.exists():
            return False
    return at.is_file()


@settings(max_examples=60, deadline=None)
@given(st.lists(NAMES, min_size=1, max_size=4))
def test_refuses_exactly_a_path_through_a_file_and_changes_nothing(parts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _tree(root)
        before = _entries(root)
        target = root.joinpath(*parts)
        if _blocked(root, parts):
            with pytest.raises(OutputUnwritable, match="Not a directory"):
                check_writable(target)
        else:
            check_writable(target)
        assert _entries(root) == before  # the probe folder is gone, nothing was created


def test_the_error_names_the_path_the_user_gave(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    shown = tmp_path / "f" / "out.jsonl"
    with pytest.raises(OutputUnwritable) as err:
        check_writable(shown.parent, shown=shown)
    assert err.value.message == f"cannot write {shown}: Not a directory"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs a /proc, where nothing can be made")
def test_a_folder_where_nothing_can_be_made_is_refused() -> None:
    # root may write anywhere a permission bit forbids, but not into /proc
    with pytest.raises(OutputUnwritable, match="cannot write /proc/tasklang-out/run"):
        check_writable(Path("/proc/tasklang-out/run"))
