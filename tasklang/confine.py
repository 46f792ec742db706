"""Confinement: the one home for resolving a path that a `.task` file names.

A `.task` file may come from someone else (a colleague, a hub, a paper), so what it names
(imports, vocabularies, reference solutions, tokenizers, decontamination lists) is read only
from inside the project root, tasklang's own data and the directories given with
`--allow-path`. Symlinks are resolved before the check, so a link inside the root that points
outside is refused. A tokenizer that is not a local file or directory would be downloaded from
the model hub: that needs `--allow-network` (or TASKLANG_ALLOW_NETWORK=1).
"""

from __future__ import annotations

import errno
import importlib.util
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import Diagnostic, Span, error
from .resources import grammar_path, vocab_dir

NETWORK_ENV = "TASKLANG_ALLOW_NETWORK"
TASK_SUFFIX = ".task"

_HOW_TO_ALLOW = ("to read it, allow its directory with --allow-path DIR, or widen the project "
                 "root with --root DIR")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What a load may read and fetch, as the user gave it (the CLI's --root, --allow-path,
    --allow-network). `allow_network=None` reads TASKLANG_ALLOW_NETWORK from the environment."""

    root: Path | None = None  # None: the common directory of the files named on the command line
    allow_paths: tuple[Path, ...] = ()
    allow_network: bool | None = None


@dataclass(frozen=True, slots=True)
class Confinement:
    """LoadOptions resolved against the named files: absolute, symlink-free directories."""

    root: Path
    extra: tuple[Path, ...] = ()  # --allow-path
    own: tuple[Path, ...] = ()  # tasklang's own data: the default vocabularies, the grammar
    allow_network: bool = False

    @staticmethod
    def at(root: Path, options: LoadOptions | None = None) -> Confinement:
        options = options or LoadOptions()
        resolved = real_path(options.root if options.root is not None else root)
        extra = tuple(dict.fromkeys(real_path(p) for p in options.allow_paths))
        own = (real_path(vocab_dir()), real_path(grammar_path().parent))
        network = options.allow_network
        if network is None:
            network = os.environ.get(NETWORK_ENV, "").strip().lower() in ("1", "true", "yes")
        return Confinement(resolved, extra, own, network)

    @staticmethod
    def for_files(named: Iterable[Path], options: LoadOptions | None = None) -> Confinement:
        """The root is `options.root`, else the common directory of the named paths (a file
        counts by its directory, a directory by itself), else the working directory."""
        dirs = []
        for p in named:
            try:
                dirs.append(str(real_path(p if p.is_dir() else p.parent)))
            except (OSError, ValueError):
                continue  # a bad command-line path is reported by the loader
        common = Path(os.path.commonpath(dirs)) if dirs else Path.cwd()
        return Confinement.at(common, options)

    def permits(self, resolved: Path) -> bool:
        return any(resolved.is_relative_to(d) for d in (self.root, *self.extra, *self.own))

    def refusal(self, raw: str, resolved: Path, kind: str, span: Span) -> Diagnostic:
        extra = f", in --allow-path {', '.join(map(str, self.extra))}" if self.extra else ""
        return error("path-not-allowed",
                     f"{describe(kind)} {raw!r} resolves to {resolved}, outside the project root "
                     f"{self.root}", span,
                     f"a .task file may only name files inside the project root{extra} or in "
                     "tasklang's own data (the default vocabularies)",
                     _HOW_TO_ALLOW)


def real_path(path: Path) -> Path:
    """Absolute, `..` and symlinks resolved, never raising for a missing, looping or over-long
    name (os.path.realpath is lenient where Path.resolve raises on a loop)."""
    return Path(os.path.realpath(os.path.abspath(path)))


# kind -> (what it is, in messages; the code when nothing is found)
_KINDS = {
    "import": ("import", "missing-import"),
    "vocab": ("vocabulary file", "missing-vocab"),
    "reference": ("reference solution", "missing-reference"),
    "tokenizer": ("tokenizer", "missing-tokenizer"),
    "decontaminate": ("decontamination list", "missing-decontaminate"),
    "source": (".task file", "missing-file"),
}


def describe(kind: str) -> str:
    return _KINDS.get(kind, (kind, ""))[0]


def _missing(kind: str, raw: str, span: Span) -> Diagnostic:
    noun, code = _KINDS.get(kind, (kind, f"missing-{kind}"))
    # Literal codes where they are fixed: tests/tasklang/test_corpus.py greps them.
    if kind == "import":
        return error("missing-import", f"cannot import {raw!r}: no such file", span)
    if kind == "vocab":
        return error("missing-vocab", f"no vocabulary file {raw!r} (looked beside the file, in "
                     "vocab/ and in the default vocab)", span)
    if kind == "decontaminate":
        return error("missing-decontaminate", f"no benchmark file {raw!r} to decontaminate "
                     "against", span, "the path is relative to the .task file")
    return error(code, f"cannot read the {noun} {raw!r}: no such file", span,
                 "the path is relative to the .task file")


def _os_problem(kind: str, raw: str, err: OSError, span: Span) -> Diagnostic:
    shown = raw if len(raw) <= 80 else raw[:60] + f"...({len(raw)} characters)"
    reason = {errno.ENAMETOOLONG: "the name is too long for the file system (255 characters a "
                                  "component at most)",
              errno.ELOOP: "too many levels of symbolic links"}.get(
        err.errno or 0, err.strerror or str(err))
    return error("bad-path", f"cannot use the {describe(kind)} path {shown!r}: {reason}", span)


def _explicit(raw: str) -> bool:
    """An absolute path or one that climbs (`..`): named exactly, not searched for."""
    p = Path(raw)
    return p.is_absolute() or ".." in p.parts


def resolve_named_file(raw: str, base: Path, kind: str, span: Span, confinement: Confinement,
                       *, search: Sequence[Path] = (), directory_ok: bool = False
                       ) -> Path | Diagnostic:
    """`raw` as a .task file at `base` names it -> the resolved path of an existing regular
    file (or directory, with `directory_ok`) that the confinement permits, or the diagnostic
    at `span` saying why not: path-not-allowed, bad-path (over-long name, symlink loop...),
    not-a-task-file (imports) or missing-<kind>. Never raises OSError, never reads the file.

    A bare relative name is looked for in `base`, then in each `search` directory, skipping
    those outside the confinement; an absolute name or one with `..` is taken as it is."""
    if "\x00" in raw or not raw.strip():
        return error("bad-path", f"{describe(kind)} path {raw!r} is not a usable file name", span)
    if kind == "import" and not raw.endswith(TASK_SUFFIX):
        return _not_a_task_file(raw, span)
    bases = [base] if _explicit(raw) else [base, *search]
    for where in bases:
        resolved = real_path(where / raw)
        if not confinement.permits(resolved):
            if where is not base and not confinement.permits(real_path(where)):
                continue  # a search place outside the confinement is not a place to look
            return confinement.refusal(raw, resolved, kind, span)  # outside, or a link out
        try:
            st = os.stat(resolved)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR):
                continue
            return _os_problem(kind, raw, err, span)
        if stat.S_ISREG(st.st_mode) or (directory_ok and stat.S_ISDIR(st.st_mode)):
            if kind == "import" and not resolved.name.endswith(TASK_SUFFIX):
                return _not_a_task_file(raw, span, resolved)
            return resolved
        if stat.S_ISDIR(st.st_mode):
            return error("bad-path", f"{describe(kind)} {raw!r} is a directory, not a file", span)
        return error("bad-path", f"{describe(kind)} {raw!r} is not a regular file", span)
    return _missing(kind, raw, span)


def _not_a_task_file(raw: str, span: Span, resolved: Path | None = None) -> Diagnostic:
    via = "" if resolved is None else f" (it resolves to {resolved})"
    return error("not-a-task-file", f"cannot import {raw!r}: only .task files can be "
                 f"imported{via}", span, "the file was not read")


def check_source_file(path: Path, confinement: Confinement, span: Span) -> Path | Diagnostic:
    """A file to load as a .task source (named on the command line or found in a named
    directory): its resolved path, when it is a .task file inside the confinement."""
    resolved = real_path(path)
    if not confinement.permits(resolved):
        return confinement.refusal(str(path), resolved, "source", span)
    if not resolved.name.endswith(TASK_SUFFIX):
        via = "" if resolved.name == path.name else f" (it resolves to {resolved})"
        return error("not-a-task-file", f"{path} is not a .task file{via}", span,
                     "the file was not read")
    return resolved


# ---------------------------------------------------------------- tokenizers

# A model hub id: `name` or `org/name`, letters, digits, `-`, `_`, `.` (no `..`, no leading
# dot); a name that ends in .json is a file, never an id.
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95})?")


def looks_like_hub_id(spec: str) -> bool:
    return bool(_HUB_ID.fullmatch(spec)) and ".." not in spec and not spec.endswith(".json")


@dataclass(frozen=True, slots=True)
class TokenizerSource:
    """Where a dataset's tokenizer comes from: a local file or directory, or a hub id."""

    spec: str  # as written in the .task file
    path: Path | None  # resolved local file or directory; None for a hub id


def resolve_tokenizer(spec: str, base: Path, span: Span, confinement: Confinement
                      ) -> TokenizerSource | Diagnostic:
    """The `tokenizer` setting -> its source, or why it cannot be used. Never imports
    transformers (only asks whether it is installed) and never touches the network."""
    found = resolve_named_file(spec, base, "tokenizer", span, confinement,
                               search=[Path.cwd()], directory_ok=True)
    if isinstance(found, Path):
        return TokenizerSource(spec, found)
    if found.code != "missing-tokenizer" or not looks_like_hub_id(spec):
        return found
    if not confinement.allow_network:
        return error("network-required",
                     f"tokenizer {spec!r} is not a local file or directory: loading it as a "
                     "model id would download it from the model hub", span,
                     f"pass --allow-network (or set {NETWORK_ENV}=1) to allow the download",
                     "or name a local tokenizer.json or saved tokenizer directory, relative "
                     "to the .task file")
    if not hub_tokenizers_available():
        return error("missing-tokenizer", f"no tokenizer file {spec!r}, and the train extra "
                     "(transformers) is not installed to load it as a model id", span)
    return TokenizerSource(spec, None)


def hub_tokenizers_available() -> bool:
    """Whether a tokenizer can be loaded by model id or saved directory (the train extra)."""
    return importlib.util.find_spec("transformers") is not None
