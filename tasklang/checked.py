"""A checked program: what `api.check` hands to the stages after it (compile, preview, audit).

Its own module so that the stages take a checked program without importing the API that
chains them (api imports audit; audit imports this, not api).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ast
from .checks import CheckResult
from .diagnostics import Diagnostic
from .program import Program


@dataclass
class Checked:
    program: Program
    result: CheckResult | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    allowed: int = 0  # warnings accepted by `# allow: code` comments on their lines

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def sources(self) -> dict[str, str]:
        return self.program.sources


def datasets_of(checked: Checked) -> list[ast.Dataset]:
    """Datasets declared in the files named on the command line (not only imported)."""
    roots = set(checked.program.roots)
    return [ds for ds in checked.program.datasets.values() if ds.span.file in roots]
