"""tasklang: declarative `.task` files -> verified synthetic datasets, graded by the trace runtime.

The library API (tasklang.project) is imported on first use, so `import tasklang` stays
as light as the version string: `tasklang.load(paths)`, `tasklang.score(text, record)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .project import Dataset, Project, ProjectError, Stream, load, score

_LAZY = ("Dataset", "Project", "ProjectError", "Stream", "load", "score")
__all__ = ["Dataset", "Project", "ProjectError", "Stream", "__version__", "load", "score"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import project

        return getattr(project, name)
    raise AttributeError(f"module 'tasklang' has no attribute {name!r}")
