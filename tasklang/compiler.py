"""Compiling: a checked pattern -> generator IR (closures) that samples one verified example.

The IR never re-reads the AST at sampling time: every let, constraint, template
and trace statement becomes a closure once. A sample is rejected (and counted,
by reason) when a constraint fails, a value cannot be computed, or the gold
trace does not execute; the answer is always the executed query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from typing import Any

from runtime.errors import TraceError
from runtime.execute import execute
from runtime.experts import COMPOSITION, ExpertTable
from runtime.grounding import UNIT_CONSTANTS, Grounding, states_integer
from runtime.numbers import format_number
from runtime.ops import COMPUTE_OPS, NAME_RE, PREV_RESULT, STEP_TYPES, ComputeStep, InitStep, QueryStep, Step
from runtime.render import assemble, render_step
from runtime.skeleton import Skeleton, skeleton_of
from runtime.trace import AnyTrace, ComposedTrace, Trace

from . import ast
from .code_answers import CodeAnswer, compile_code
from .diagnostics import Span, source_lines
from .expr import (
    EvalError,
    Structure,
    compile_expr,
    constant,
    current_limits,
    field_of,
    free_names,
    norm,
    using_limits,
)
from .formats import (
    FIXED_PLACES,
    TEXT_FORMATS,
    FormatError,
    Labelled,
    Placeholder,
    looks_like_raw_float,
    parse_template,
    render_value,
)
from .generators import GENERATORS
from .limits import DEFAULT_LIMITS, LimitError, Limits, too_many_digits
from .rng import StreamRandom
from .vocab import Entry, Record, Vocab

Env = dict[str, Any]
LetFn = Callable[[StreamRandom, Env], Any]


class Rejected(Exception):
    """This sample is unusable; `reason` names the constraint or failure (counted)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    id: str
    splits: tuple[str, ...]
    lang: str | None
    parts: tuple[str | Placeholder, ...]
    render: Callable[..., str]

    def usable(self, split: str, lang: str | None) -> bool:
        return (not self.splits or split in self.splits) and self.lang == lang


@dataclass(slots=True)  # not frozen: frozen fields cost 1 us per example to set, 5% of generation
class Example:
    """One generated example, typed until it is written. Never changed once made."""

    pattern: str
    expert: str | None  # the expert, "composition" for composed traces, None for text answers
    experts: tuple[str, ...]
    template_id: str
    lang: str | None
    payload: tuple[tuple[str, str], ...]
    question: str
    answer: str
    completion: str
    # Builds the gold trace on demand (writing a dataset needs only its text); None for
    # text answers.
    gold: Callable[[], AnyTrace] | None = field(default=None, compare=False, repr=False)
    raw_floats: tuple[str, ...] = ()
    function: str | None = None  # code answers: the function the model writes
    tests: tuple[tuple[Sequence[Any], Any], ...] = ()  # ... and its cases: (args, expected)

    @property
    def trace(self) -> AnyTrace | None:
        return None if self.gold is None else self.gold()


# ---------------------------------------------------------------- lets


def _as_int(value: Any, what: str) -> int:
    if type(value) is int:
        return value
    if not isinstance(value, Fraction) or value.denominator != 1:
        raise EvalError(f"{what} must be a whole number, got {value!r}")
    return int(value)


def _compile_let(let: ast.Let, vocabs: Mapping[str, Vocab], allowed: Mapping[str, list[Entry]]
                 ) -> LetFn:
    s = let.sampler
    if isinstance(s, ast.IntRange):
        return _int_range(s)
    if isinstance(s, ast.DecimalRange):
        return _decimal_range(s)
    if isinstance(s, ast.Choice):
        items = [(i.label, compile_expr(i.value)) for i in s.items]

        def choice(rng: StreamRandom, env: Env) -> Any:
            label, fn = items[rng.below(len(items))]
            value = fn(env)
            return Labelled(value, label) if label is not None else value

        return choice
    if isinstance(s, ast.ChoiceFrom):
        return _choice_from(s)
    if isinstance(s, ast.Pick):
        entries = allowed[let.name] if let.name in allowed else list(vocabs[s.vocab].entries)
        return _pick(s, entries)
    if isinstance(s, ast.Generate):
        gen = GENERATORS[s.generator]
        kwargs = [(k, compile_expr(v)) for k, v in s.kwargs]
        defaults = {k: p.default for k, p in gen.params.items()}

        def generate(rng: StreamRandom, env: Env) -> Structure:
            args = dict(defaults)
            args.update({k: _as_int(fn(env), k) for k, fn in kwargs})
            for k, v in args.items():  # values computed per sample are checked per sample
                param = gen.params[k]
                if not param.lo <= v <= param.hi:
                    raise EvalError(f"{s.generator}: {k} = {v} is outside {param.lo}..{param.hi}")
            return gen.fn(rng, **args)

        return generate
    return _derived(let, compile_expr(s.expr))


def _choice_from(s: ast.ChoiceFrom) -> LetFn:
    """`choice from L else F`: one element of L, each equally likely (given the lets above);
    F, without a draw, exactly when L is empty; no F: the sample is rejected."""
    values_fn = compile_expr(s.values)
    fallback = compile_expr(s.fallback) if s.fallback is not None else None

    def choice_from(rng: StreamRandom, env: Env) -> Any:
        values = values_fn(env)
        if values:
            return values[rng.below(len(values))]
        if fallback is None:
            raise EvalError("choice from an empty list (add `else <value>` for a fallback)")
        return fallback(env)

    return choice_from


def _derived(let: ast.Let, fn: Callable[[Env], Any]) -> LetFn:
    """A derived let, refusing a value past the digit limit: `*`, `/` and `**` are bounded
    where they compute, but sums of big values, let after let, could still grow."""
    max_digits = current_limits().max_digits

    def derived(rng: StreamRandom, env: Env) -> Any:
        value = fn(env)
        if too_many_digits(value, max_digits):
            raise LimitError("max_digits", f"let {let.name} has more than {max_digits} digits",
                             let.span)
        return value

    return derived


def _int_range(s: ast.IntRange) -> LetFn:
    lo_c, hi_c = constant(s.lo), constant(s.hi)
    step_c = 1 if s.step is None else constant(s.step)
    if type(lo_c) is int and type(hi_c) is int and type(step_c) is int and step_c > 0 \
            and lo_c <= hi_c:
        # Constant bounds (the common case): no expression evaluation per sample.
        n = (hi_c - lo_c) // step_c + 1
        if step_c == 1:
            return lambda rng, env: lo_c + rng.below(n)
        return lambda rng, env: lo_c + step_c * rng.below(n)
    lo_fn, hi_fn = compile_expr(s.lo), compile_expr(s.hi)
    step_fn = compile_expr(s.step) if s.step is not None else None

    def int_range(rng: StreamRandom, env: Env) -> int:
        lo, hi = _as_int(lo_fn(env), "range start"), _as_int(hi_fn(env), "range end")
        step = 1 if step_fn is None else _as_int(step_fn(env), "step")
        if step <= 0 or lo > hi:
            raise EvalError(f"empty range {lo}..{hi}")
        return lo + step * rng.below((hi - lo) // step + 1)

    return int_range


def _decimal_range(s: ast.DecimalRange) -> LetFn:
    lo_fn, hi_fn, step_fn = compile_expr(s.lo), compile_expr(s.hi), compile_expr(s.step)

    def decimal_range(rng: StreamRandom, env: Env) -> Any:
        lo, hi, step = lo_fn(env), hi_fn(env), step_fn(env)
        if step <= 0 or lo > hi:
            raise EvalError(f"empty range {lo}..{hi}")
        n = int(Fraction(hi - lo) / step)
        return norm(lo + step * rng.below(n + 1))

    return decimal_range


def _pick(s: ast.Pick, entries: list[Entry]) -> LetFn:
    if not entries:
        def nothing(rng: StreamRandom, env: Env) -> Entry:
            raise EvalError(f"no {s.vocab} entry fits max_tokens {s.max_tokens}")
        return nothing
    others = s.distinct_from

    def pick(rng: StreamRandom, env: Env) -> Entry:
        if not others:
            return entries[rng.below(len(entries))]
        taken = {env.get(o) for o in others}
        for _ in range(64):  # cheap rejection first; exact filtering if that keeps failing
            entry = entries[rng.below(len(entries))]
            if entry not in taken:
                return entry
        rest = [e for e in entries if e not in taken]
        if not rest:
            raise EvalError(f"no {s.vocab} entry distinct from {', '.join(others)}")
        return rest[rng.below(len(rest))]

    return pick


# ---------------------------------------------------------------- domains and `where`

DomainFn = Callable[[Mapping[str, Any]], Sequence[Any]]


def let_values(let: ast.Let, vocabs: Mapping[str, Vocab],
               allowed: Mapping[str, list[Entry]]) -> DomainFn | None:
    """Every value a let can take given the lets before it, each as often as its sampler
    draws it (None: not enumerable). An empty or impossible range raises EvalError, as the
    sampler rejects it."""
    s = let.sampler
    if isinstance(s, ast.IntRange):
        lo, hi = compile_expr(s.lo), compile_expr(s.hi)
        step = compile_expr(s.step) if s.step is not None else (lambda env: 1)

        def ints(env: Mapping[str, Any]) -> range:
            by = _as_int(step(env), "step")
            if by <= 0:
                raise EvalError(f"step {by} is not positive")
            # A range, not a list: `int 1..10**12` has a length without 10**12 values in memory.
            return range(_as_int(lo(env), "range start"), _as_int(hi(env), "range end") + 1, by)

        return ints
    if isinstance(s, ast.DecimalRange):
        dlo, dhi, dstep = compile_expr(s.lo), compile_expr(s.hi), compile_expr(s.step)

        def decimals(env: Mapping[str, Any]) -> list[Any]:
            a, b, d = dlo(env), dhi(env), dstep(env)
            if d <= 0 or a > b:
                return []
            return [norm(a + d * k) for k in range(int(Fraction(b - a) / d) + 1)]

        return decimals
    if isinstance(s, ast.Choice):
        items = [(i.label, compile_expr(i.value)) for i in s.items]
        return lambda env: [Labelled(fn(env), label) if label is not None else fn(env)
                            for label, fn in items]
    if isinstance(s, ast.ChoiceFrom):
        listed, fallback = compile_expr(s.values), s.fallback
        otherwise = compile_expr(fallback) if fallback is not None else None

        def chosen(env: Mapping[str, Any]) -> Sequence[Any]:
            values = listed(env)
            if values or otherwise is None:
                return values  # type: ignore[no-any-return]
            return [otherwise(env)]

        return chosen
    if isinstance(s, ast.Pick):
        if s.vocab not in vocabs:
            return None
        entries = list(allowed[let.name]) if let.name in allowed else list(vocabs[s.vocab].entries)
        others = s.distinct_from
        return lambda env: [e for e in entries if e not in {env.get(o) for o in others}]
    if isinstance(s, ast.Derived):
        fn = compile_expr(s.expr)
        return lambda env: [fn(env)]
    return None  # generate: structures are not enumerable


# A `where` let whose domain (given the lets above) has at most this many values draws from
# the list of those that pass; a larger one is redrawn, at most WHERE_TRIES times.
WHERE_ENUMERATE = 4096
WHERE_TRIES = 1000
_CACHE_SIZE = 4096  # draw contexts remembered per `where` let
_QUICK_TRIES = 8  # plain draws tried before the list of passing values is made


@dataclass(slots=True)
class WhereStats:
    """Draws of one `where` let and how many found a value: preflight reports a let whose
    condition never held. Counters, updated while sampling (so not frozen)."""

    let: str
    text: str
    span: Span
    draws: int = 0
    hits: int = 0


def _sampler_exprs(s: ast.Sampler) -> list[ast.Expr]:
    if isinstance(s, ast.IntRange | ast.DecimalRange):
        return [x for x in (s.lo, s.hi, s.step) if x is not None]
    if isinstance(s, ast.Choice):
        return [i.value for i in s.items]
    if isinstance(s, ast.ChoiceFrom):
        return [s.values] + ([s.fallback] if s.fallback is not None else [])
    if isinstance(s, ast.Generate):
        return [v for _, v in s.kwargs]
    if isinstance(s, ast.Derived):
        return [s.expr]
    return []


def _with_where(let: ast.Let, draw: LetFn, domain: DomainFn | None, stats: WhereStats) -> LetFn:
    """`let n = <sampler> where C`: uniform over the values of n that meet C, given the lets
    above. A small domain (after a few plain draws fail) is filtered once per draw context
    (the values of the lets the sampler and C read) and drawn from exactly; a large one is
    redrawn until C holds. The sampler `draw` and the listing `domain` give the same values,
    each equally often (let_values' contract)."""
    assert let.where is not None
    name, test = let.name, compile_expr(let.where)
    reads = [r.name for e in (*_sampler_exprs(let.sampler), let.where) for r in free_names(e)]
    if isinstance(let.sampler, ast.Pick):
        reads += let.sampler.distinct_from
    context = [n for n in dict.fromkeys(reads) if n != name]
    cache: dict[tuple[Any, ...], list[Any] | None] = {}

    def passes(env: Env, value: Any) -> bool:
        env[name] = value
        try:
            return bool(test(env))
        except EvalError:
            return False
        finally:
            del env[name]

    def valid(env: Env) -> list[Any] | None:
        """The values that pass, or None when the domain is too large to list."""
        assert domain is not None
        key = tuple(env.get(n) for n in context)
        try:
            if key in cache:
                return cache[key]
        except TypeError:  # an unhashable value (a structure's fields): no caching
            key = None  # type: ignore[assignment]
        values = domain(env)
        out = None if len(values) > WHERE_ENUMERATE else [v for v in values if passes(env, v)]
        if key is not None:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[key] = out
        return out

    def where(rng: StreamRandom, env: Env) -> Any:
        stats.draws += 1
        if domain is not None:
            # A few plain draws first: when most values pass, one of them does, and no list
            # is made. Each is uniform over the domain, so the first that passes is uniform
            # over the values that pass, and so is the list drawn from after: the mixture is.
            for _ in range(_QUICK_TRIES):
                value = draw(rng, env)
                if passes(env, value):
                    stats.hits += 1
                    return value
        values = valid(env) if domain is not None else None
        if values is not None:
            if not values:
                raise EvalError(f"no value meets `where {stats.text}`")
            stats.hits += 1
            return values[rng.below(len(values))]
        for _ in range(WHERE_TRIES):
            value = draw(rng, env)
            if passes(env, value):
                stats.hits += 1
                return value
        raise EvalError(f"no value met `where {stats.text}` in {WHERE_TRIES} draws")

    return where


# ---------------------------------------------------------------- templates


def _lookup(env: Env, path: tuple[str, ...]) -> Any:
    value = env[path[0]]
    for f in path[1:]:
        value = field_of(value, f)
    return value


Raw = list[str] | None
Piece = Callable[[Env, Raw], str]
TemplateFn = Callable[[Env, Raw], str]


def _general_piece(part: Placeholder) -> Piece:
    def piece(env: Env, raw: Raw) -> str:
        value = _lookup(env, part.path)
        if part.count is not None:
            form = "singular" if env[part.count] == 1 else "plural"
            value = value.get(form) if isinstance(value, Entry) else value
        elif raw is not None and not part.formats and isinstance(value, Fraction) and \
                not isinstance(value, Labelled) and looks_like_raw_float(value):
            raw.append(f"{{{part.raw}}} = {format_number(value)}")
        try:
            return render_value(value, part.formats)
        except FormatError as err:
            raise EvalError(f"{{{part.raw}}}: {err}") from None

    return piece


def _text_piece(part: Placeholder, general: Piece) -> Piece:
    """`{who}`, `{who.subj:cap}`: vocabulary text with text formats, without the general path."""
    name, fields = part.path[0], part.path[1:]
    formats = [TEXT_FORMATS[f] for f in part.formats]

    def text_piece(env: Env, raw: Raw) -> str:
        value = env[name]
        if type(value) is not Entry:
            return general(env, raw)
        text = value.by_name.get(fields[0]) if fields else str(value)
        if text is None:
            return general(env, raw)  # raises the right error
        for f in formats:
            text = f(text)
        return text

    return text_piece


# `{n:comma}`, `{n:money}` of an int: what formats.with_commas and formats.money give it.
_INT_FORMATS: dict[tuple[str, ...], Callable[[int], str]] = {
    ("comma",): lambda n: f"{n:,}",
    ("money",): lambda n: f"${n:,}" if n >= 0 else f"-${-n:,}",
}


def _int_format_piece(name: str, fmt: Callable[[int], str], general: Piece) -> Piece:
    def int_format_piece(env: Env, raw: Raw) -> str:
        value = env[name]
        return fmt(value) if type(value) is int else general(env, raw)

    return int_format_piece


def _piece(part: Placeholder) -> Piece:
    general = _general_piece(part)
    if part.count is None and len(part.path) <= 2 and all(f in TEXT_FORMATS for f in part.formats) \
            and (len(part.path) == 2 or part.formats):
        return _text_piece(part, general)
    if part.count is None and len(part.path) == 1 and part.formats in _INT_FORMATS:
        return _int_format_piece(part.path[0], _INT_FORMATS[part.formats], general)
    if part.count is not None or part.formats or len(part.path) > 1:
        return general
    name = part.path[0]

    def plain_piece(env: Env, raw: Raw) -> str:
        value = env[name]
        kind = type(value)
        if kind is int:
            return str(value)
        if kind is str:
            return value  # type: ignore[no-any-return]
        if kind is Entry:
            return str(value)  # what render_value gives an entry without formats
        return general(env, raw)

    return plain_piece


def compile_template(parts: tuple[str | Placeholder, ...]) -> TemplateFn:
    """Template -> closure: literal text stays text, each placeholder is one small function."""
    pieces = [_piece(p) for p in parts if not isinstance(p, str)]
    # One %-format of the placeholders' texts: faster than joining literals and texts.
    text_format = "".join(p.replace("%", "%%") if isinstance(p, str) else "%s" for p in parts)

    def render_fn(env: Env, raw: Raw = None) -> str:
        return text_format % tuple([piece(env, raw) for piece in pieces])

    return render_fn


def render_template(parts: tuple[str | Placeholder, ...], env: Env, raw: Raw = None) -> str:
    return compile_template(parts)(env, raw)


# ---------------------------------------------------------------- traces

StepFn = Callable[[Env], Step]
ValueFn = Callable[[Env], Any]


def _name_fn(tvar: ast.TVar) -> Callable[[Env], str]:
    if not tvar.templated:
        text = tvar.text
        return lambda env: text
    render_fn = compile_template(parse_template(tvar.text).parts)

    def name(env: Env) -> str:
        # Entity-anchored names (`bob.cards`): lower case, words joined by underscores.
        rendered = render_fn(env, None).strip().lower().replace(" ", "_")
        if not NAME_RE.fullmatch(rendered):
            raise EvalError(f"{tvar.text} renders as {rendered!r}, not a valid name")
        return rendered

    return name


def _compile_stmt(stmt: ast.TStmt) -> StepFn:
    if isinstance(stmt, ast.TQuery):
        name = _name_fn(stmt.var)
        return lambda env: QueryStep.trusted(var=name(env))
    if isinstance(stmt, ast.TInit):
        return _compile_init(stmt)
    args = [_name_fn(a) for a in stmt.args]
    out = _name_fn(stmt.out) if stmt.out is not None else None
    if stmt.op in COMPUTE_OPS:
        op = stmt.op
        assert out is not None
        return lambda env: ComputeStep.trusted(
            compute_op=op, args=tuple(a(env) for a in args), var=out(env))
    cls = STEP_TYPES[stmt.op]
    keys = [k for k in cls.KEYS if k not in ("op", "var")]
    names = dict(cls.RENDER_ATTRS)  # YAML key -> attribute (`from` -> `source_entity`)

    def domain(env: Env) -> Step:
        values = {names[k]: a(env) for k, a in zip(keys, args, strict=True)}
        if out is not None:
            values["var"] = out(env)
        return cls.trusted(**values)

    return domain


def _compile_init(stmt: ast.TInit) -> StepFn:
    name = _name_fn(stmt.var)
    if stmt.from_prev:
        return lambda env: InitStep.trusted(var=name(env), source=PREV_RESULT)
    value_fn = _init_value(stmt)
    return lambda env: InitStep.trusted(var=name(env), value=value_fn(env))


def _init_value(stmt: ast.TInit) -> ValueFn:
    """The number an `init` (not `init x = prev`) writes into the gold trace."""
    value_fn = compile_expr(stmt.value) if stmt.value is not None else (
        lambda env, key=stmt.var.text: env[key])

    def init_value(env: Env) -> Any:
        value = value_fn(env)
        if type(value) is int:
            return value
        if not isinstance(value, Fraction):
            raise EvalError(f"init {stmt.var.text}: not a number")
        if isinstance(value, Labelled):
            value = Fraction(value)  # the number, not its label
        return value

    return init_value


@dataclass(frozen=True, slots=True)
class StepPlan:
    """How to make one step: built once when nothing in it depends on the payload."""

    fn: StepFn
    step: Step | None
    line: str | None
    value: ValueFn | None  # an init's value (a skeleton's hole), else None


def _is_constant(stmt: ast.TStmt) -> bool:
    names = [stmt.var] if isinstance(stmt, ast.TInit | ast.TQuery) else (
        ([stmt.out] if stmt.out else []) + list(stmt.args))
    if any(n.templated for n in names):
        return False
    if isinstance(stmt, ast.TInit):
        return stmt.from_prev or (stmt.value is not None and not free_names(stmt.value))
    return True


def _plan(stmt: ast.TStmt) -> StepPlan:
    fn = _compile_stmt(stmt)
    value = _init_value(stmt) if isinstance(stmt, ast.TInit) and not stmt.from_prev else None
    if _is_constant(stmt):
        step = fn({})
        return StepPlan(fn, step, render_step(step), value)
    return StepPlan(fn, None, None, value)


# ---------------------------------------------------------------- the pattern


Test = Callable[[Mapping[str, Any]], Any]


@dataclass
class CompiledPattern:
    name: str
    lets: list[tuple[str, LetFn]]
    # One entry per conjunct of every `require` (`a and b` is two): (text, test, uses answer).
    requires: list[tuple[str, Test, bool]]
    templates: list[CompiledTemplate]
    blocks: list[tuple[str, list[StepPlan]]]
    answer: TemplateFn | None
    table: ExpertTable
    pick_sizes: dict[str, int] = field(default_factory=dict)  # entries each pick can draw from
    fixed_structure: bool = False  # no templated names: every gold trace has one structure
    code: CodeAnswer | None = None  # `function` patterns: the function and its test cases
    # Of a fixed structure, made from the first gold trace that executed: later gold traces
    # are run and rendered from their init values alone (see runtime.skeleton).
    skeleton: Skeleton | None = None
    holes: tuple[ValueFn, ...] = ()  # the init values of a gold trace, in trace order
    constants: frozenset[Fraction] = frozenset()  # the dataset's `constants`: grounded too
    hole_names: tuple[str, ...] | None = None  # when every init is `init x` of a let x

    # Set from the fields: each let with the answer-free constraints that can be tested as
    # soon as it is sampled (a sample is rejected before the rest of it is drawn), and
    # the answer-free constraints that name no let at all.
    schedule: list[tuple[str, LetFn, list[tuple[str, Test]]]] = field(init=False)
    constant_requires: list[tuple[str, Test]] = field(init=False)
    experts: tuple[str, ...] = field(init=False)
    expert_label: str | None = field(init=False)  # Example.expert: None, one, or "composition"
    requires_names: list[frozenset[str]] | None = None  # the let names each require reads
    where_stats: dict[str, WhereStats] = field(default_factory=dict)  # the `where` lets
    hidden: frozenset[str] = frozenset()  # `let hidden`: left out of the payload
    # Per template id: which holes its question states by construction (statically_grounded).
    proven: dict[str, tuple[bool, ...]] = field(default_factory=dict)
    # The statement each rejection reason names ("require a > 3", "let x", "template p/0"):
    # where a preflight that finds a pattern unsatisfiable points.
    reason_spans: dict[str, Span] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.answer_requires = any(uses_answer for _, _, uses_answer in self.requires)
        self.experts = tuple(expert for expert, _ in self.blocks)
        self.expert_label = (None if not self.blocks else
                             self.blocks[0][0] if len(self.blocks) == 1 else COMPOSITION)
        names = self.requires_names or [frozenset(n for n, _ in self.lets)] * len(self.requires)
        position = {name: i for i, (name, _) in enumerate(self.lets)}
        after: list[list[tuple[str, Test]]] = [[] for _ in self.lets]
        self.constant_requires = []
        for (text, test, uses_answer), read in zip(self.requires, names, strict=True):
            if uses_answer:
                continue
            last = max((position[n] for n in read if n in position), default=None)
            (self.constant_requires if last is None else after[last]).append((text, test))
        self.schedule = [(name, fn, checks) for (name, fn), checks in
                         zip(self.lets, after, strict=True)]

    def reason_span(self, reason: str) -> Span | None:
        """The statement a Rejected reason names (`require ...` whole, else before its `:`)."""
        return self.reason_spans.get(reason) or self.reason_spans.get(reason.split(":")[0])

    def hole_values(self, env: Env) -> Sequence[Any]:
        """What `[hole(env) for hole in self.holes]` gives, faster in the common case:
        every init names a let, and every such let holds an int."""
        names = self.hole_names
        if names is not None:
            values = [env[name] for name in names]
            for v in values:
                if type(v) is not int:
                    break
            else:
                return values
        return [hole(env) for hole in self.holes]

    def sample_payload(self, rng: StreamRandom, env: Env | None = None) -> Env:
        """One assignment satisfying every answer-free constraint; raises Rejected.

        Each constraint is tested right after the last let it reads: a doomed sample stops
        there. Which samples pass is what testing everything at the end gives. `env`: the
        dict to fill, which after a rejection holds the values drawn so far (preflight
        counts them to find a value that never passes)."""
        env = {} if env is None else env
        if self.constant_requires:
            _test_all(self.constant_requires, env)
        for name, fn, checks in self.schedule:
            try:
                env[name] = fn(rng, env)
            except EvalError as err:
                raise Rejected(f"let {name}: {err}") from None
            if checks:
                _test_all(checks, env)
        return env

    def realize(self, env: Env, template: CompiledTemplate, split: str | None = None,
                rng: StreamRandom | None = None) -> Example:
        """Question, gold trace, executed answer and completion for one payload. Code answers
        draw their test cases from `rng`, only cases that `split` owns (see code_answers)."""
        if self.code is not None:
            return self._code_example(env, template, self._question(env, template, None),
                                      split, rng)
        # The answer first: a `require` on the answer then rejects before any rendering.
        gold, answer, completion, inits = self._answer(env)
        raw: list[str] = []
        question = self._question(env, template, raw)
        if inits:
            _check_grounded(question, self._unproven(env, inits, template), template,
                            self.constants)
        # Positional, in field order: this runs once per example.
        return Example(self.name, self.expert_label, self.experts, template.id, template.lang,
                       self.payload(env), question, answer, completion, gold,
                       tuple(raw) if raw else ())

    def _unproven(self, env: Env, inits: Sequence[Any], template: CompiledTemplate
                  ) -> Sequence[Any]:
        """The gold init values that this template's question might not state: a let it
        renders as a number that grounding reads back (statically_grounded) is stated by
        construction, so only the others, and labelled choices, are looked for."""
        names = self.hole_names
        if names is None or len(names) != len(inits):
            return inits
        proven = self.proven.get(template.id)
        if proven is None:
            proven = self.proven[template.id] = statically_grounded(template.parts, names)
        out = None
        for i, value in enumerate(inits):
            if not proven[i] or type(env[names[i]]) is Labelled:  # a label renders as words
                if out is None:
                    out = []
                out.append(value)
        return out or ()

    def payload(self, env: Env) -> tuple[tuple[str, str], ...]:
        """The visible payload: every let but the hidden ones. Leak and uniqueness keys are
        made from it, so hidden values never make two equal payloads distinct."""
        hidden = self.hidden
        if not hidden:
            return payload_items(env)
        return payload_items({k: v for k, v in env.items() if k not in hidden})

    @staticmethod
    def _question(env: Env, template: CompiledTemplate, raw: Raw) -> str:
        try:
            return template.render(env, raw)
        except (EvalError, KeyError) as err:
            raise Rejected(f"template {template.id}: {err}") from None

    def _code_example(self, env: Env, template: CompiledTemplate, question: str,
                      split: str | None, rng: StreamRandom | None) -> Example:
        code = self.code
        assert code is not None
        try:
            cases = code.cases(env, rng, split)
        except EvalError as err:
            raise Rejected(f"tests: {err}") from None
        self._check_answer_requires(env, code.answer)
        return Example(self.name, None, (), template.id, template.lang, self.payload(env),
                       question, code.answer, code.completion, None, function=code.function,
                       tests=cases)

    def _answer(self, env: Env
                ) -> tuple[Callable[[], AnyTrace] | None, str, str, Sequence[Any]]:
        """(gold trace maker, answer, completion, init values); the answer is the executed
        query; the init values must be grounded in the question (see _check_grounded)."""
        if self.answer is not None:
            try:
                text = self.answer(env, None)
            except (EvalError, KeyError) as err:
                raise Rejected(f"answer: {err}") from None
            self._check_answer_requires(env, text)
            return None, text, text, ()
        if self.skeleton is not None:
            try:
                values = self.hole_values(env)
                value = self.skeleton.run(values)
            except (EvalError, KeyError, TraceError, ArithmeticError, ValueError):
                pass  # the full trace below says why (the reason is counted)
            else:
                if self.answer_requires:
                    self._check_answer_requires(env, value)  # an int or a Fraction, as norm() gives
                answer = str(value) if type(value) is int else format_number(value)
                return (partial(self.gold_trace, env), answer, self.skeleton.text(values),
                        values)
        trace, text = self.build_trace(env)
        outcome = execute(trace, self.table)
        if outcome.error is not None or outcome.value is None:
            kind = outcome.error.kind.value if outcome.error else "no value"
            raise Rejected(f"gold trace: {kind}")
        if self.fixed_structure and self.skeleton is None:
            self.skeleton = _skeleton(trace, self.table, len(self.holes))
        self._check_answer_requires(env, outcome.value)
        parts = trace.parts if isinstance(trace, ComposedTrace) else (trace,)
        inits = [s.value for part in parts for s in part.steps
                 if isinstance(s, InitStep) and s.value is not None]
        return partial(_same, trace), format_number(outcome.value), text, inits

    def gold_trace(self, env: Env) -> AnyTrace:
        return self.build_trace(env)[0]

    def build_trace(self, env: Env) -> tuple[AnyTrace, str]:
        """The gold trace for a payload and its canonical text (== runtime.render(trace))."""
        parts, lines = [], []
        for expert, plans in self.blocks:
            steps, rendered = [], []
            for plan in plans:
                if plan.step is not None:
                    steps.append(plan.step)
                    rendered.append(plan.line)
                    continue
                try:
                    step = plan.fn(env)
                except EvalError as err:
                    raise Rejected(f"trace: {err}") from None
                steps.append(step)
                rendered.append(render_step(step))
            parts.append(Trace.trusted(expert, tuple(steps)))
            lines.append((expert, rendered))
        composed = len(parts) > 1
        trace = ComposedTrace.model_construct(parts=tuple(parts)) if composed else parts[0]
        return trace, assemble(lines, composed)  # type: ignore[arg-type]

    def _check_answer_requires(self, env: Env, answer: Any) -> None:
        with_answer = None
        for text, test, uses_answer in self.requires:
            if not uses_answer:
                continue
            if with_answer is None:
                with_answer = {**env, "answer": answer}
            try:
                ok = test(with_answer)
            except EvalError:
                ok = False
            if not ok:
                raise Rejected(f"require {text}")


def _test_all(checks: list[tuple[str, Test]], env: Env) -> None:
    for text, test in checks:
        try:
            ok = test(env)
        except EvalError:
            ok = False
        if not ok:
            raise Rejected(f"require {text}")


# Number formats whose rendering runtime.grounding reads back as the value itself (pinned by
# a hypothesis property in tests/tasklang/test_grounded_gold.py); words, ordinals and
# labels are looked for in each question instead.
GROUNDED_FORMATS = frozenset({"plain", "comma", "money", "eur", "gbp", "percent", "frac",
                              *(f"fixed{n}" for n in FIXED_PLACES)})


def statically_grounded(parts: Sequence[str | Placeholder], names: Sequence[str]
                        ) -> tuple[bool, ...]:
    """Per hole (the let it inits), whether every question of the template states its value:
    some placeholder renders the let alone with GROUNDED_FORMATS, and no digit, separator or
    other placeholder touches it (`{a}{b}` or `{a}0` would read as another number)."""
    stated = set()
    for i, part in enumerate(parts):
        if (not isinstance(part, Placeholder) or len(part.path) != 1 or part.count is not None
                or not all(f in GROUNDED_FORMATS or f in TEXT_FORMATS for f in part.formats)):
            continue
        before = parts[i - 1] if i else ""
        after = parts[i + 1] if i + 1 < len(parts) else ""
        if not isinstance(before, str) or not isinstance(after, str):
            continue
        if before[-1:].isdigit() or before[-1:] in (",", ".", "/"):
            continue
        if after.startswith(",000") and not after[4:5].isdigit() \
                and not (after[4:5] in (",", ".") and after[5:6].isdigit()):
            pass  # `$110,000` grounds 110 too ("in thousands of dollars", runtime.grounding)
        elif after[:1].isdigit() or (after[:1] in (",", ".", "/") and after[1:2].isdigit()):
            continue
        stated.add(part.path[0])
    return tuple(name in stated for name in names)


def _check_grounded(question: str, inits: Sequence[Any], template: CompiledTemplate,
                    constants: frozenset[Fraction] = frozenset()) -> None:
    """Every gold init must be grounded in its own question (runtime.grounding), as the
    model's will be when graded: a trace that starts from a number the question never
    states teaches the model to invent numbers. A template that never renders a let the
    trace inits fails every draw, so the build stops with `unsatisfiable` naming it."""
    grounding = None
    for value in inits:
        if type(value) is int and (value in UNIT_CONSTANTS or states_integer(question, value)):
            continue  # the common case, without extracting every number of the question
        if value in constants:
            continue
        grounding = grounding or Grounding.fresh(question)
        if not grounding.grounds(value):
            number = format_number(Fraction(value))
            # a constant written in a trace op (`mul(hours, 61)`) lands here too: name the fix.
            # `constants` lists magnitudes: -3 is grounded by 3 (runtime.grounding).
            declared = format_number(abs(Fraction(value)))
            raise Rejected(f"gold trace: ungrounded_init: init {number} is not stated in the "
                           f"question of template {template.id} (state it there, or declare "
                           f"a unit constant with `constants {declared}` in the dataset)")


def _same(trace: AnyTrace) -> AnyTrace:
    return trace


def _skeleton(trace: AnyTrace, table: ExpertTable, holes: int) -> Skeleton | None:
    skeleton = skeleton_of(trace, table)
    # Both sides count the value inits in trace order; should they ever disagree, every
    # gold trace keeps going the full way rather than getting values in the wrong holes.
    return skeleton if skeleton is not None and skeleton.holes == holes else None


def payload_value(value: Any) -> str:
    kind = type(value)
    if kind is int or kind is str or kind is Entry:  # the common types first
        return str(value)
    if isinstance(value, Labelled):
        return format_number(Fraction(value))
    if isinstance(value, Fraction):
        return format_number(value)
    if isinstance(value, Record):
        return value.payload_text()
    if type(value) is tuple:  # a list let
        return "[" + ", ".join(payload_value(v) for v in value) + "]"
    return str(value)


def payload_items(env: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    items = []
    for k, v in env.items():
        kind = type(v)  # payload_value's common types inline: this runs for every example
        items.append((k, str(v) if kind is int or kind is str or kind is Entry
                      else payload_value(v)))
    return tuple(items)


def _expr_text(e: ast.Expr, source: str | None) -> str:
    if source is None:
        return "constraint"
    lines = source_lines(source)
    s = e.span
    if s.line == s.end_line and 1 <= s.line <= len(lines):
        return lines[s.line - 1][s.col - 1 : s.end_col - 1]
    return "constraint"


def _uses_answer(e: ast.Expr) -> bool:
    from .expr import free_names

    return any(r.name == "answer" for r in free_names(e))


def compile_pattern(p: ast.Pattern, vocabs: Mapping[str, Vocab], table: ExpertTable,
                    source: str | None = None,
                    allowed: Mapping[str, list[Entry]] | None = None,
                    reference: str | None = None, limits: Limits = DEFAULT_LIMITS,
                    constants: frozenset[Fraction] = frozenset()) -> CompiledPattern:
    """IR of a pattern that passed `checks` (compiling an unchecked pattern may raise).
    `reference` is the text of a code answer's reference solution (Program.references).
    Values computed while sampling are held to `limits` (LimitError past them).
    `constants`: the dataset's, which gold inits may take without the question stating them."""
    with using_limits(limits):
        compiled = _compile_pattern(p, vocabs, table, source, allowed, reference)
    compiled.constants = constants
    return compiled


def _compile_pattern(p: ast.Pattern, vocabs: Mapping[str, Vocab], table: ExpertTable,
                     source: str | None, allowed: Mapping[str, list[Entry]] | None,
                     reference: str | None) -> CompiledPattern:
    lets, where_stats = [], {}
    for let in p.lets:
        fn = _compile_let(let, vocabs, allowed or {})
        if let.where is not None:
            stats = where_stats[let.name] = WhereStats(let.name, _expr_text(let.where, source),
                                                       let.where.span)
            fn = _with_where(let, fn, let_values(let, vocabs, allowed or {}), stats)
        lets.append((let.name, fn))
    conjuncts = [c for r in p.requires for c in _conjuncts(r.expr)]
    requires = [(_expr_text(c, source), compile_expr(c), _uses_answer(c)) for c in conjuncts]
    reads = [frozenset(ref.parts[0] for ref in free_names(c)) for c in conjuncts]
    templates = []
    for i, t in enumerate(p.templates):
        tid = f"{p.name}/{t.name or i}"
        parts = parse_template(t.text).parts
        templates.append(CompiledTemplate(tid, t.splits, t.lang, parts, compile_template(parts)))
    blocks = [(b.expert, [_plan(s) for s in b.steps]) for b in p.traces]
    answer = compile_template(parse_template(p.answers[0].text).parts) if p.answers else None
    pick_sizes = {let.name: len(vocabs[let.sampler.vocab].entries) for let in p.lets
                  if isinstance(let.sampler, ast.Pick) and let.sampler.vocab in vocabs}
    pick_sizes.update({name: len(entries) for name, entries in (allowed or {}).items()})
    fixed = not any(isinstance(v, ast.TVar) and v.templated for b in p.traces for st in b.steps
                    for v in _stmt_names(st))
    holes = tuple(plan.value for _, plans in blocks for plan in plans if plan.value is not None)
    inits = [s for b in p.traces for s in b.steps if isinstance(s, ast.TInit) and not s.from_prev]
    plain = all(s.value is None for s in inits)
    spans = {f"let {let.name}": let.span for let in p.lets}
    spans.update({f"template {ct.id}": t.span for ct, t in zip(templates, p.templates, strict=True)})
    spans.update({f"require {text}": c.span for (text, _, _), c in zip(requires, conjuncts,
                                                                        strict=True)})
    return CompiledPattern(p.name, lets, requires, templates, blocks, answer, table, pick_sizes,
                           fixed, code=compile_code(p, reference), holes=holes,
                           hole_names=tuple(s.var.text for s in inits) if plain else None,
                           requires_names=reads, where_stats=where_stats,
                           hidden=frozenset(let.name for let in p.lets if let.hidden),
                           reason_spans=spans)


def _conjuncts(e: ast.Expr) -> list[ast.Expr]:
    """`a and (b and c)` -> [a, b, c]: each is tested (and reported) on its own."""
    if isinstance(e, ast.BoolOp) and e.op == "and":
        return [c for operand in e.operands for c in _conjuncts(operand)]
    return [e]


def _stmt_names(stmt: ast.TStmt) -> list[ast.TVar]:
    if isinstance(stmt, ast.TInit | ast.TQuery):
        return [stmt.var]
    return ([stmt.out] if stmt.out else []) + list(stmt.args)
