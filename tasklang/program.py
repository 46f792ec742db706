"""Loading: `.task` paths -> one Program (imports followed, names collected, vocabularies and
reference solutions read)."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from runtime.experts import COMPOSITION, DEFAULT_EXPERTS, Expert, ExpertTable

from . import ast
from .confine import (
    Confinement,
    LoadOptions,
    check_source_file,
    real_path,
    resolve_named_file,
    resolve_tokenizer,
)
from .diagnostics import Diagnostic, Span, error
from .parser import parse_text
from .vocab import Vocab, VocabError, load_vocab, vocab_file_name, vocab_search_dirs


@dataclass(frozen=True, slots=True)
class LoadedReference:
    """The reference solution of a code-answer pattern, as read when the file was loaded."""

    path: str  # display path, a key of Program.file_hashes
    text: str


@dataclass
class Program:
    """Everything the given files and their imports declare, in one namespace."""

    modules: list[ast.Module] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # display path -> text
    experts: dict[str, ast.ExpertDecl] = field(default_factory=dict)
    vocab_decls: dict[str, ast.VocabDecl] = field(default_factory=dict)
    vocabs: dict[str, Vocab] = field(default_factory=dict)
    patterns: dict[str, ast.Pattern] = field(default_factory=dict)
    datasets: dict[str, ast.Dataset] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)  # files named on the command line
    file_hashes: dict[str, str] = field(default_factory=dict)
    references: dict[str, LoadedReference] = field(default_factory=dict)  # pattern -> solution
    # `pattern name for x in ...`: the family's name -> its instances' names, in value order
    families: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # What the files may name (None only for a Program not made by load_program).
    confinement: Confinement | None = None
    # `import` statements whose file was not loaded (refused, unreadable, a syntax error): what
    # it declares is unknown, so "no vocab named ..." after it is no news (api.check).
    unread_imports: list[Span] = field(default_factory=list)

    def expert_table(self) -> ExpertTable:
        """The runtime's default experts, overridden and extended by `expert` declarations."""
        table = {name: DEFAULT_EXPERTS[name] for name in DEFAULT_EXPERTS}
        for decl in self.experts.values():
            expert = expert_from_decl(decl)
            if expert is not None and decl.name != COMPOSITION:  # reserved: checks report it
                table[decl.name] = expert
        return ExpertTable(table.values())


def expert_from_decl(decl: ast.ExpertDecl) -> Expert | None:
    ops = {spec.name for spec in decl.ops}
    compute_ops: set[str] = set()
    for spec in decl.ops:
        if spec.compute_ops is not None:
            compute_ops |= set(spec.compute_ops)
    try:
        return Expert(decl.name, frozenset(ops), frozenset(compute_ops))
    except ValueError:
        return None  # checks report the unknown ops with positions


def display_path(path: Path) -> str:
    """Paths relative to the working directory when possible: what users typed."""
    try:
        return str(real_path(path).relative_to(real_path(Path.cwd())))
    except ValueError:
        return str(path)


def expand_paths(paths: list[str]) -> tuple[list[Path], list[Diagnostic]]:
    """Files as given, directories as every `.task` file below them (sorted)."""
    files: list[Path] = []
    diags = []
    for raw in paths:
        p = Path(raw)
        try:
            p.stat()
        except OSError as err:  # a missing path is reported below; an over-long one here
            if err.errno not in (errno.ENOENT, errno.ENOTDIR):
                diags.append(error("bad-path", f"cannot use {raw[:80]!r}: "
                                   f"{err.strerror or err}", Span.point(raw[:80])))
                continue
        if p.is_dir():
            found = sorted(p.rglob("*.task"))
            if not found:
                diags.append(error("no-task-files", f"no .task files under {raw}", Span.point(raw)))
            files += found
        elif p.is_file():
            files.append(p)
        else:
            diags.append(error("missing-file", f"no such file or directory: {raw}", Span.point(raw)))
    return files, diags


class _Loader:
    def __init__(self, confinement: Confinement) -> None:
        self.program = Program(confinement=confinement)
        self.confinement = confinement
        self.diags: list[Diagnostic] = []
        self.seen: dict[Path, str] = {}

    def load_root(self, path: Path) -> None:
        """A file named on the command line or found in a named directory: it must be a
        .task file inside the confinement too (a named folder may hold symlinks)."""
        resolved = check_source_file(path, self.confinement, Span.point(display_path(path)))
        if isinstance(resolved, Diagnostic):
            self.diags.append(resolved)
            return
        self.load_file(path, root=True)

    def load_file(self, path: Path, root: bool) -> bool:
        """`path` has passed the confinement: a .task file inside the allowed directories.
        Whether its declarations were read (or had been already)."""
        resolved = real_path(path)
        if resolved in self.seen:
            if root and self.seen[resolved] not in self.program.roots:
                self.program.roots.append(self.seen[resolved])
            return True
        shown = display_path(path)
        self.seen[resolved] = shown
        try:
            data = resolved.read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            self.diags.append(error("unreadable", f"cannot read {shown}: {err}", Span.point(shown)))
            return False
        self.program.sources[shown] = text
        self.program.file_hashes[shown] = hashlib.sha256(data).hexdigest()
        if root:
            self.program.roots.append(shown)
        module, diags = parse_text(text, shown)
        self.diags += diags
        if module is None:
            return False
        self.program.modules.append(module)
        for item in module.items:
            self._declare(item, resolved.parent)
        return True

    def _resolve(self, raw: str, base: Path, kind: str, span: Span,
                 search: list[Path] | None = None) -> Path | None:
        found = resolve_named_file(raw, base, kind, span, self.confinement, search=search or [])
        if isinstance(found, Diagnostic):
            self.diags.append(found)
            return None
        return found

    def _declare(self, item: ast.Item, base: Path) -> None:
        if isinstance(item, ast.Import):
            target = self._resolve(item.path, base, "import", item.span)
            if target is None or not self.load_file(target, root=False):
                self.program.unread_imports.append(item.span)
        elif isinstance(item, ast.ExpertDecl):
            self._unique(self.program.experts, item.name, item, "expert")
        elif isinstance(item, ast.VocabDecl):
            if self._unique(self.program.vocab_decls, item.name, item, "vocab"):
                self._load_vocab(item, base)
        elif isinstance(item, ast.Pattern):
            if not self._unclaimed(item):
                return
            instances = family_instances(item)
            if item.family is not None:
                self.program.families[item.name] = tuple(p.name for p in instances)
            for p in instances:
                if self._unique(self.program.patterns, p.name, p, "pattern") and p.references:
                    self._load_reference(p, p.references[0], base)
        elif (isinstance(item, ast.Dataset)
              and self._unique(self.program.datasets, item.name, item, "dataset")):
            self._resolve_tokenizer(item, base)
            for stmt in item.decontaminate:  # read at build time, confined like everything named
                self._resolve(stmt.path, base, "decontaminate", stmt.span)

    def _unclaimed(self, item: ast.Pattern) -> bool:
        """A family's name and a pattern's name are one namespace (datasets list both)."""
        taken = self.program.families.get(item.name) or (
            (item.name,) if item.family is not None and item.name in self.program.patterns
            else None)
        if taken is None:
            return True
        first = self.program.patterns[taken[0]].span
        self.diags.append(error("duplicate-name", f"pattern {item.name!r} is declared twice",
                                item.span, f"first declared at {first.file}:{first.line}"))
        return False

    def _unique(self, table: dict, name: str, item: ast.Item, kind: str) -> bool:  # type: ignore[type-arg]
        if name in table:
            first = table[name].span
            self.diags.append(error("duplicate-name", f"{kind} {name!r} is declared twice",
                                    item.span, f"first declared at {first.file}:{first.line}"))
            return False
        table[name] = item
        return True

    def _load_reference(self, pattern: ast.Pattern, ref: ast.Reference, base: Path) -> None:
        path = self._resolve(ref.path, base, "reference", ref.span)
        if path is None:
            return
        try:
            data = path.read_bytes()
            text = data.decode("utf-8")
        except OSError as err:
            self.diags.append(error("missing-reference", f"cannot read the reference solution "
                                    f"{ref.path!r}: {err.strerror or err}", ref.span))
            return
        except UnicodeDecodeError as err:
            self.diags.append(error("unreadable", f"cannot read {ref.path}: {err}", ref.span))
            return
        shown = display_path(path)
        self.program.references[pattern.name] = LoadedReference(shown, text)
        self.program.file_hashes[shown] = hashlib.sha256(data).hexdigest()

    def _load_vocab(self, decl: ast.VocabDecl, base: Path) -> None:
        path = self._resolve(vocab_file_name(decl.source), base, "vocab", decl.span,
                             vocab_search_dirs(base)[1:])
        if path is None:
            return
        try:
            data = path.read_bytes()
            vocab = load_vocab(decl.name, path, data)
        except OSError as err:
            self.diags.append(error("bad-vocab", f"{path}: cannot read vocabulary: "
                                    f"{err.strerror or err}", decl.span))
            return
        except VocabError as err:
            self.diags.append(error("bad-vocab", str(err), decl.span))
            return
        self.program.vocabs[decl.name] = vocab
        self.program.file_hashes[display_path(path)] = hashlib.sha256(data).hexdigest()

    def _resolve_tokenizer(self, ds: ast.Dataset, base: Path) -> None:
        """Checked here, where paths are confined; build and audit resolve it again the same
        way (budget.make_counter). The type of the setting is checks.py's."""
        tok = next((s for s in ds.settings if s.key == "tokenizer"), None)
        if tok is None or not isinstance(tok.value, str):
            return
        found = resolve_tokenizer(tok.value, base, tok.span, self.confinement)
        if isinstance(found, Diagnostic):
            self.diags.append(found)


def family_instances(p: ast.Pattern) -> list[ast.Pattern]:
    """A family `pattern f for x in v1, v2 { body }` is the patterns f_1, f_2: each the body
    after `let x = choice <its value>` (a labelled value keeps its label). Others: [p]."""
    if p.family is None:
        return [p]
    return [ast.Pattern(f"{p.name}_{i}", (ast.Let(p.family.var, ast.Choice((item,), item.span),
                                                  item.span), *p.body),
                        p.span, p.family, p.name)
            for i, item in enumerate(p.family.items, start=1)]


def _expand_families(program: Program) -> None:
    """A dataset listing a family lists its instances, each with the family's weight divided
    by their number: the exact mixture (splits.allocate) gives each value its exact share."""
    for name, ds in program.datasets.items():
        if not any(w.pattern in program.families for w in ds.patterns):
            continue
        listed: list[ast.Weighted] = []
        for w in ds.patterns:
            members = program.families.get(w.pattern)
            listed += [w] if members is None else [
                ast.Weighted(m, w.weight / len(members), w.span) for m in members]
        program.datasets[name] = dataclasses.replace(ds, patterns=tuple(listed))


def load_program(paths: list[str], options: LoadOptions | None = None
                 ) -> tuple[Program, list[Diagnostic]]:
    """Parse the given files and everything they import. Diagnostics are collected, not raised.
    What the files name is confined to the root (`options.root`, else the common directory of
    `paths`), `options.allow_paths` and tasklang's own data (see tasklang.confine)."""
    confinement = Confinement.for_files([Path(p) for p in paths], options)
    loader = _Loader(confinement)
    files, diags = expand_paths(paths)
    loader.diags += diags
    for f in files:
        loader.load_root(f)
    _expand_families(loader.program)
    return loader.program, loader.diags
