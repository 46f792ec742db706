"""Trace steps: a closed, typed union of ops, each one registration (fields + semantics) in this file.

To add an op, write one `Step` subclass with an `op: Literal[...]` field, its
`reads`/`defines`/`updates` and `apply`, and decorate it with `@register_op`.
Compute ops (add, sub, ...) are one `register_compute` line each. Nothing else
in the runtime needs to change: validation, the JSON Schema, rendering, static
analysis and execution all dispatch on these classes. Registration happens in this file
only: once it has loaded the registry is sealed (registering later raises UsageError),
because the Trace union, the schema and the default experts are built from it once.

Each op also declares its `Facts` here, once: commutativity and when a step only copies
one of its inputs (`add(x, 0)`, `max(x, x)`, `percent_of(x, 100)`, `consume` of 0). A
copy of an init-only value stays init-only, so the anti-short-circuit rule cannot be
laundered through an identity step; execution, static analysis and the test strategies
all read these facts. Whatever an op declares, a step whose inputs all have one value
and whose output is that value (`avg(a, a)`) is a copy: a new op cannot reopen the hole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal, Protocol, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .errors import ErrorKind, TraceError, UsageError
from .numbers import MAX_LITERAL_CHARS, format_number, parse_answer, parse_trace_number

# ---------------------------------------------------------------- field types

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
NAME_RE = _NAME  # public: the compiler validates rendered entity names with it
MAX_NAME_CHARS = 64
# PyYAML (YAML 1.1) reads these plain words as booleans/null; a variable called `yes`
# would not survive a round trip through YAML, so no name may be one of them.
YAML_RESERVED = frozenset(
    ["yes", "no", "true", "false", "on", "off", "null"]
)
PREV_RESULT = "prev.result"


_VALID_NAMES: set[str] = set()  # names already checked; bounded like the extractor's caches


def check_name(value: Any) -> str:
    """A variable or expert name: identifier segments joined by dots (`bob.cards`)."""
    if type(value) is str and value in _VALID_NAMES:
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise PydanticCustomError(
            "invalid_step", "expected a variable name, got {got}", {"got": repr(value)[:40]}
        )
    if value.lower() in YAML_RESERVED:
        raise PydanticCustomError(
            "invalid_step", "{got} cannot be a name: YAML reads yes/no/true/false/on/off/null as "
            "booleans or null; rename it", {"got": value})
    if len(value) > MAX_NAME_CHARS:
        raise PydanticCustomError(
            "invalid_step", "name longer than {n} characters: {got}...",
            {"n": MAX_NAME_CHARS, "got": value[:40]})
    if not _NAME.fullmatch(value):
        raise PydanticCustomError(
            "invalid_step", "not a valid name: {got} (letters, digits and _, not starting with a "
            "digit; dots join entity and attribute, as in bob.cards)", {"got": value[:40]})
    if value == PREV_RESULT:
        raise PydanticCustomError(
            "invalid_step", "prev.result is read with {{op: init, source: prev.result}}", {}
        )
    if len(_VALID_NAMES) >= 8192:
        _VALID_NAMES.clear()
    _VALID_NAMES.add(value)
    return value


def to_number(value: Any) -> Fraction:
    """An exact value from YAML: ints, decimals, plain numeric strings ("18", "80,000",
    "1/2"; strictly, see numbers.parse_trace_number: '4 5' and '$18' are not numbers).

    A value is accepted only if its canonical rendering is itself an acceptable
    literal, so every accepted trace renders to text that parses back to it
    (`1e-39` is refused: written out it is 41 characters).
    """
    number = _number_or_none(value)
    if number is None:
        raise PydanticCustomError(
            "not_a_number", "expected a number, got {got}", {"got": repr(value)[:40]})
    if len(format_number(number)) > MAX_LITERAL_CHARS:
        raise PydanticCustomError("limits_exceeded", "number too long to write out", {})
    return number


def _number_or_none(value: Any) -> Fraction | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value) if abs(value) < 10**MAX_LITERAL_CHARS else None
    if isinstance(value, str):
        return parse_trace_number(value, MAX_LITERAL_CHARS)
    if isinstance(value, float):
        try:
            return parse_answer(value, MAX_LITERAL_CHARS)
        except ValueError:
            return None
    return None


def to_source(value: Any) -> str:
    if value != PREV_RESULT:
        raise PydanticCustomError(
            "invalid_step", "source must be prev.result, got {got}", {"got": repr(value)[:40]}
        )
    return PREV_RESULT


def to_names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise PydanticCustomError(
            "invalid_step", "args must be a list of variable names, got {got}",
            {"got": repr(value)[:40]},
        )
    return tuple(check_name(v) for v in value)


_NAME_SCHEMA = {"type": "string", "pattern": "^" + _NAME.pattern + "$", "maxLength": MAX_NAME_CHARS}
Name = Annotated[str, BeforeValidator(check_name), WithJsonSchema(_NAME_SCHEMA)]
Number = Annotated[
    Fraction,
    BeforeValidator(to_number),
    PlainSerializer(format_number, return_type=str, when_used="json"),
    WithJsonSchema({
        "oneOf": [
            {"type": "number"},
            {"type": "string", "pattern": r"^-?\d+(\.\d+)?$|^-?\d+/\d+$"},
        ]
    }),
]
Source = Annotated[str, BeforeValidator(to_source), WithJsonSchema({"const": PREV_RESULT})]
Names = Annotated[
    tuple[str, ...], BeforeValidator(to_names),
    WithJsonSchema({"type": "array", "items": _NAME_SCHEMA, "minItems": 1}),
]

# ---------------------------------------------------------------- compute ops

# Inside execution, whole numbers are plain ints (exact and ~30x faster than
# Fraction); anything else is a Fraction. The solver normalises after every step.
Value = int | Fraction


ComputeFn = Callable[[Sequence[Value]], Value]


ANY, FIRST = "any", "first"


@dataclass(frozen=True, slots=True)
class Facts:
    """What an op is, declared on its registration (the one home of these facts).

    `copies` says which inputs an output equal to them merely copies: `"any"` input (add:
    the others sum to 0, as in `x + 0`; mul: the others multiply to 1, or x is 0; min and
    max; percent_of: a rate of 100 or a base of 100), the `"first"` input only (sub 0, div
    1, floordiv 1, mod by more than x, pow 1, percent_off/percent_increase 0, consume or
    transfer 0: for these an output equal to the *second* input can be an honest result,
    like 10 - 5 = 5), or `None`. For every op, declared or not, an output equal to inputs
    that all have one value copies them (`avg(a, a)`, `div(1, 1)`). `selects`: the result
    is always one of the inputs (min, max): statically, a selection of init-only inputs
    is init-only. `commutative`: argument order does not matter (the audit's shapes).
    """

    commutative: bool = False
    copies: str | None = None  # ANY, FIRST or None
    selects: bool = False

    def copied(self, values: Sequence[Value], out: Value) -> tuple[int, ...]:
        """Indices of the inputs that `out` merely copies; () when the step computed.

        Called only when `out` equals some input (the caller checks `out in values`).
        """
        if all(v == out for v in values):
            return tuple(range(len(values)))
        if self.copies == ANY:
            return tuple(i for i, v in enumerate(values) if v == out)
        if self.copies == FIRST and values[0] == out:
            return (0,)
        return ()


NO_FACTS = Facts()


def copies_init_only(facts: Facts, names: Sequence[str], values: Sequence[Value], out: Value,
                     init_only: set[str] | frozenset[str]) -> bool:
    """Whether `out`, made from `names` (with `values`), is only a copy of init-only inputs:
    then it stays init-only. A copy of a computed input is computed (`max(x, y)`, y computed)."""
    if out not in values:  # the common case: a real computation, decided in C
        return False
    hits = facts.copied(values, out)
    if not hits or not all(names[i] in init_only for i in hits):
        return False
    if facts.selects or len(hits) == len(values):
        return True  # min/max picked a written number, or every input is that number
    # An identity (`x * 1`, `x + 0`) launders only when its identity operand was written too:
    # `12 * (4 / 4)` multiplies by a computed 1 and computes (GSM8K train line 3379).
    return all(name in init_only for name in names)


# Far above any real value (the solver's own bound is max_digits), low enough to be cheap.
MAX_INTERMEDIATE_BITS = 4096


@dataclass(frozen=True, slots=True)
class ComputeOp:
    """One arithmetic operation usable as `compute_op`."""

    name: str
    min_args: int
    max_args: int | None  # None: variadic
    fn: ComputeFn
    doc: str
    facts: Facts = NO_FACTS


_COMPUTE_OPS: dict[str, ComputeOp] = {}
COMPUTE_OPS: Mapping[str, ComputeOp] = MappingProxyType(_COMPUTE_OPS)  # read-only: see _seal

# Set when this module has loaded. The Trace union (runtime.trace), the JSON Schema, the
# compute step's `compute_op` enum and the default experts' vocabularies are all built once
# from the registry at import, so an op registered later would be valid in some of them and
# unknown in others: registration after load is refused, not half done.
_SEALED = False


def _check_open(kind: str, name: str) -> None:
    if _SEALED:
        raise UsageError(f"cannot register {kind} {name!r} after runtime.ops has loaded: the "
                         "Trace union, the JSON Schema and the experts are built from the "
                         "registry once; register it in runtime/ops.py")


def register_compute(
    name: str, min_args: int, max_args: int | None, doc: str, facts: Facts = NO_FACTS
) -> Callable[[ComputeFn], ComputeFn]:
    """Register a compute op (in this file: see _SEALED). `facts` say when it only copies an
    input (see Facts); an op that declares none is still covered by the one-value rule
    (`avg(a, a)` copies `a`)."""
    _check_open("compute op", name)

    def deco(fn: ComputeFn) -> ComputeFn:
        if name in _COMPUTE_OPS:
            raise UsageError(f"compute op {name!r} is registered twice")
        _COMPUTE_OPS[name] = ComputeOp(name, min_args, max_args, fn, doc, facts)
        return fn

    return deco


def _nonzero(x: Value) -> Value:
    if x == 0:
        raise TraceError(ErrorKind.DIVISION_BY_ZERO, "division by zero")
    return x


@register_compute("add", 2, None, "sum of all args", Facts(commutative=True, copies=ANY))
def _add(a: Sequence[Value]) -> Value:
    out: Value = 0
    for x in a:
        out += x
        # Sums of fractions with distinct denominators grow too: stop early as in mul.
        if type(out) is not int and out.denominator.bit_length() > MAX_INTERMEDIATE_BITS:
            raise TraceError(ErrorKind.LIMITS_EXCEEDED, "sum too large")
    return out


@register_compute("sub", 2, 2, "first arg minus second", Facts(copies=FIRST))
def _sub(a: Sequence[Value]) -> Value:
    return a[0] - a[1]


@register_compute("mul", 2, None, "product of all args", Facts(commutative=True, copies=ANY))
def _mul(a: Sequence[Value]) -> Value:
    out: Value = 1
    for x in a:
        out *= x
        # Stop a long product as soon as it is hopeless, not after 200,000 digits.
        if out.numerator.bit_length() > MAX_INTERMEDIATE_BITS or \
                out.denominator.bit_length() > MAX_INTERMEDIATE_BITS:
            raise TraceError(ErrorKind.LIMITS_EXCEEDED, "product too large")
    return out


@register_compute("div", 2, 2, "first arg divided by second (exact)",
                  Facts(copies=FIRST))
def _div(a: Sequence[Value]) -> Value:
    return Fraction(a[0]) / _nonzero(a[1])


@register_compute("floordiv", 2, 2, "whole number of times the second fits in the first",
                  Facts(copies=FIRST))
def _floordiv(a: Sequence[Value]) -> Value:
    return a[0] // _nonzero(a[1])


@register_compute("mod", 2, 2, "remainder of first divided by second",
                  Facts(copies=FIRST))
def _mod(a: Sequence[Value]) -> Value:
    return a[0] % _nonzero(a[1])


@register_compute("pow", 2, 2, "first arg to the power of the second (an integer up to 64)",
                  Facts(copies=FIRST))
def _pow(a: Sequence[Value]) -> Value:
    base, exp = Fraction(a[0]), Fraction(a[1])
    if exp.denominator != 1 or abs(exp) > 64:  # exp: int or Fraction, both have .denominator
        raise TraceError(ErrorKind.LIMITS_EXCEEDED, "pow needs an integer exponent of at most 64")
    if base == 0 and exp < 0:
        raise TraceError(ErrorKind.DIVISION_BY_ZERO, "zero to a negative power")
    return Fraction(base) ** int(exp)


@register_compute("min", 2, None, "smallest arg",
                  Facts(commutative=True, copies=ANY, selects=True))
def _min(a: Sequence[Value]) -> Value:
    return min(a)


@register_compute("max", 2, None, "largest arg",
                  Facts(commutative=True, copies=ANY, selects=True))
def _max(a: Sequence[Value]) -> Value:
    return max(a)


# The most places `round` takes either way (10**64 is cheap; more only hides a mistake).
MAX_ROUND_PLACES = 64


def round_half_up(x: Value, places: int = 0) -> Value:
    """`x` to `places` decimal places, halves away from zero (2.5 -> 3, -2.5 -> -3, 0.125
    at 2 places -> 0.13), as GSM-style answers round money and counts (Python's `round` goes
    to even). Negative places round to tens, hundreds. The one implementation: the
    expression language's `round` (tasklang.expr) calls it too."""
    q = Fraction(10) ** places
    scaled = abs(Fraction(x)) * q
    whole = math.floor(scaled + Fraction(1, 2))
    out = Fraction(whole if x >= 0 else -whole) / q
    return out.numerator if out.denominator == 1 else out


def _places(value: Value) -> int:
    exact = Fraction(value)
    if exact.denominator != 1 or abs(exact) > MAX_ROUND_PLACES:
        raise TraceError(ErrorKind.LIMITS_EXCEEDED,
                         f"round needs a whole number of places of at most {MAX_ROUND_PLACES}")
    return int(exact)


# floor(x), ceil(x) and round(x, n) give x back when x is already whole (or has at most n
# places): that output only copies x, the first input, so `floor(x)` of an init-only x is
# still init-only (the anti-short-circuit rule). An output equal to n alone is a result.
@register_compute("floor", 1, 1, "largest whole number not above the arg", Facts(copies=FIRST))
def _floor(a: Sequence[Value]) -> Value:
    return math.floor(a[0])


@register_compute("ceil", 1, 1, "smallest whole number not below the arg", Facts(copies=FIRST))
def _ceil(a: Sequence[Value]) -> Value:
    return math.ceil(a[0])


@register_compute("round", 1, 2, "first arg to the second's number of decimal places "
                  "(default 0), halves away from zero", Facts(copies=FIRST))
def _round(a: Sequence[Value]) -> Value:
    return round_half_up(a[0], _places(a[1]) if len(a) > 1 else 0)


# ---------------------------------------------------------------- the env


class Env(Protocol):
    """What a step may do to the execution state (implemented by the solver)."""

    prev: Value | None
    init_only: set[str]  # variables only an init (or copies of one) ever set

    def read(self, name: str) -> Value: ...
    def define(self, name: str, value: Value, *, init_only: bool) -> None: ...
    def update(self, name: str, value: Value, *, copy: bool = False) -> None: ...


# ---------------------------------------------------------------- steps


class Step(BaseModel):
    """Base of every trace step. Subclasses are frozen, strict about keys, and
    know which names they read, define (new variables) and update (in place)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    op: str
    # Canonical key order when rendered, by YAML key (aliases, not attributes).
    KEYS: ClassVar[tuple[str, ...]] = ("op",)
    # When the step only copies an input (see Facts); compute steps use their compute op's.
    FACTS: ClassVar[Facts] = NO_FACTS

    def reads(self) -> tuple[str, ...]:
        return ()

    def defines(self) -> str | None:
        return None

    def updates(self) -> tuple[str, ...]:
        return ()

    def apply(self, env: Env) -> None:
        raise NotImplementedError

    # (YAML key, attribute) in canonical order, and field defaults: filled by register_op.
    RENDER_ATTRS: ClassVar[tuple[tuple[str, str], ...]] = ()
    FIELD_DEFAULTS: ClassVar[dict[str, Any]] = {}

    def yaml_items(self) -> list[tuple[str, Any]]:
        """(key, value) pairs in canonical order, omitting unset optional fields."""
        data = self.__dict__
        return [(k, data[a]) for k, a in self.RENDER_ATTRS if data[a] is not None]

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """Build a step without validation, for values a validated path produced (the
        compiler's gold traces). Equal to the validated object with the same fields."""
        data = dict(cls.FIELD_DEFAULTS)
        data.update(values)
        return construct_unvalidated(cls, data, set(values))


_STEP_TYPES: dict[str, type[Step]] = {}
STEP_TYPES: Mapping[str, type[Step]] = MappingProxyType(_STEP_TYPES)  # read-only: see _seal


def construct_unvalidated(cls: type[Any], data: dict[str, Any], fields_set: set[str]) -> Any:
    """A frozen pydantic model from already-valid field values (what model_construct does,
    without its per-call overhead). Equal to the validated model with the same fields."""
    obj = object.__new__(cls)
    object.__setattr__(obj, "__dict__", data)
    object.__setattr__(obj, "__pydantic_fields_set__", fields_set)
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def register_op(cls: type[Step]) -> type[Step]:
    """Make `cls` part of the closed union (in this file: see _SEALED). Its `op` Literal is
    its tag."""
    tag = cls.model_fields["op"].default
    if not isinstance(tag, str):
        raise UsageError(f"{cls.__name__} needs op: Literal[...] = '...'")
    _check_open("op", tag)
    if tag in _STEP_TYPES:
        raise UsageError(f"op {tag!r} is registered twice")
    by_key = {(f.alias or name): name for name, f in cls.model_fields.items()}
    cls.RENDER_ATTRS = tuple((k, by_key[k]) for k in cls.KEYS)
    cls.FIELD_DEFAULTS = {name: f.default for name, f in cls.model_fields.items()}
    _STEP_TYPES[tag] = cls
    return cls


@register_op
class InitStep(Step):
    """Introduce a value read from the question, or the previous sub-trace's result."""

    op: Literal["init"] = "init"
    var: Name
    value: Number | None = None
    source: Source | None = None
    KEYS = ("op", "var", "value", "source")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.value is None) == (self.source is None):
            raise PydanticCustomError(
                "invalid_step", "init needs exactly one of value or source", {}
            )
        return self

    def defines(self) -> str:
        return self.var

    def apply(self, env: Env) -> None:
        if self.source is not None:
            if env.prev is None:
                raise TraceError(ErrorKind.NO_PREV_RESULT, "no previous sub-trace to read")
            env.define(self.var, env.prev, init_only=True)
        else:
            assert self.value is not None
            env.define(self.var, self.value, init_only=True)


@register_op
class ComputeStep(Step):
    """`var = compute_op(*args)` over previously defined variables."""

    op: Literal["compute"] = "compute"
    compute_op: str = Field(json_schema_extra={"enum": list(sorted(COMPUTE_OPS))})
    args: Names
    var: Name
    KEYS = ("op", "compute_op", "args", "var")

    @model_validator(mode="after")
    def _check(self) -> Self:
        spec = COMPUTE_OPS.get(self.compute_op)
        if spec is None:
            raise PydanticCustomError(
                "unknown_op", "unknown compute_op {op}", {"op": self.compute_op[:40]}
            )
        n = len(self.args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            want = f"{spec.min_args}" if spec.max_args == spec.min_args else f"{spec.min_args}+"
            raise PydanticCustomError(
                "bad_arity", "{op} takes {want} args, got {n}",
                {"op": self.compute_op, "want": want, "n": n},
            )
        return self

    def reads(self) -> tuple[str, ...]:
        return self.args

    def defines(self) -> str:
        return self.var

    @property
    def facts(self) -> Facts:
        return COMPUTE_OPS[self.compute_op].facts

    def apply(self, env: Env) -> None:
        values = [env.read(a) for a in self.args]
        spec = COMPUTE_OPS[self.compute_op]
        out = spec.fn(values)
        # `out in values` first: the common case (a real computation) costs no call.
        env.define(self.var, out, init_only=out in values and copies_init_only(
            spec.facts, self.args, values, out, env.init_only))


@register_op
class QueryStep(Step):
    """Name the answer. It must be a value some step computed (anti-short-circuit)."""

    op: Literal["query"] = "query"
    var: Name
    KEYS = ("op", "var")

    def reads(self) -> tuple[str, ...]:
        return (self.var,)

    def apply(self, env: Env) -> None:
        env.read(self.var)


@register_op
class ConsumeStep(Step):
    """entity_track: `entity` loses `amount` in place (eggs eaten, cards given away)."""

    op: Literal["consume"] = "consume"
    entity: Name
    amount: Name
    KEYS = ("op", "entity", "amount")
    FACTS = Facts(copies=FIRST)  # consuming 0 leaves the entity a copy of what it was

    def reads(self) -> tuple[str, ...]:
        return (self.entity, self.amount)

    def updates(self) -> tuple[str, ...]:
        return (self.entity,)

    def apply(self, env: Env) -> None:
        old, amount = env.read(self.entity), env.read(self.amount)
        new = old - amount
        env.update(self.entity, new, copy=copies_init_only(
            self.FACTS, (self.entity, self.amount), (old, amount), new, env.init_only))


@register_op
class TransferStep(Step):
    """entity_track: move `amount` from one entity to another, both in place."""

    op: Literal["transfer"] = "transfer"
    source_entity: Name = Field(alias="from")
    to: Name
    amount: Name
    KEYS = ("op", "from", "to", "amount")
    FACTS = Facts(copies=FIRST)  # moving 0 leaves both sides copies of what they were

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.source_entity == self.to:
            raise PydanticCustomError("invalid_step", "transfer from an entity to itself", {})
        return self

    def reads(self) -> tuple[str, ...]:
        return (self.source_entity, self.to, self.amount)

    def updates(self) -> tuple[str, ...]:
        return (self.source_entity, self.to)

    def apply(self, env: Env) -> None:
        amount = env.read(self.amount)
        names = (self.source_entity, self.amount), (self.to, self.amount)
        # Both sides read before either changes: `copies_init_only` sees the old marks.
        old = env.read(self.source_entity), env.read(self.to)
        new = old[0] - amount, old[1] + amount
        copies = [copies_init_only(self.FACTS, n, (o, amount), v, env.init_only)
                  for n, o, v in zip(names, old, new, strict=True)]
        env.update(self.source_entity, new[0], copy=copies[0])
        env.update(self.to, new[1], copy=copies[1])


def _hundredths(x: Value) -> Value:
    """x / 100, exact: an int when it divides, a Fraction otherwise."""
    if type(x) is int:
        q, r = divmod(x, 100)
        if not r:
            return q
    return Fraction(x, 100)


class PercentStep(Step):
    """percentage: `var = f(base, rate)` where rate is in percent (20 means 20%)."""

    base: Name
    rate: Name
    var: Name
    KEYS = ("op", "base", "rate", "var")

    @staticmethod
    def formula(base: Value, rate: Value) -> Value:
        raise NotImplementedError

    def reads(self) -> tuple[str, ...]:
        return (self.base, self.rate)

    def defines(self) -> str:
        return self.var

    def apply(self, env: Env) -> None:
        values = (env.read(self.base), env.read(self.rate))
        out = self.formula(*values)
        env.define(self.var, out, init_only=out in values and copies_init_only(
            self.FACTS, (self.base, self.rate), values, out, env.init_only))


@register_op
class PercentOfStep(PercentStep):
    """`rate`% of `base`: 40% of 200 is 80."""

    op: Literal["percent_of"] = "percent_of"
    FACTS = Facts(commutative=True, copies=ANY)  # 100% of x is x; x% of 100 is x

    @staticmethod
    def formula(base: Value, rate: Value) -> Value:
        return _hundredths(base * rate)


@register_op
class PercentIncreaseStep(PercentStep):
    """`base` increased by `rate`%: 80,000 increased by 150% is 200,000."""

    op: Literal["percent_increase"] = "percent_increase"
    FACTS = Facts(copies=FIRST)

    @staticmethod
    def formula(base: Value, rate: Value) -> Value:
        return _hundredths(base * (100 + rate))


@register_op
class PercentOffStep(PercentStep):
    """`base` less `rate`%: 20% off 50 is 40."""

    op: Literal["percent_off"] = "percent_off"
    FACTS = Facts(copies=FIRST)

    @staticmethod
    def formula(base: Value, rate: Value) -> Value:
        return _hundredths(base * (100 - rate))


CORE_OPS = frozenset({"init", "query"})

_SEALED = True  # last: every op of the union is registered above
