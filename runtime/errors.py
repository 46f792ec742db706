"""The runtime's error family: typed execution errors and parse failures, each with a stable kind."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a parsed trace could not produce an answer. The values are stable: eval
    breakdowns, rewards overrides and users' scripts key on them."""

    UNDEFINED_VAR = "undefined_var"  # a name read before anything defined it
    SHORT_CIRCUIT = "short_circuit"  # the query reads a value only an init ever set
    OVERWRITE = "overwrite"  # a step redefines a variable that already exists
    OP_NOT_IN_EXPERT = "op_not_in_expert"  # cross-expert contamination
    UNKNOWN_OP = "unknown_op"  # an op (or compute_op) nobody registered
    UNKNOWN_EXPERT = "unknown_expert"  # the expert is not in the table
    BAD_ARITY = "bad_arity"  # wrong number of arguments for the op
    NOT_A_NUMBER = "not_a_number"  # a name, expression or string where a value belongs
    INVALID_STEP = "invalid_step"  # missing or unknown keys, bad names, bad source
    DIVISION_BY_ZERO = "division_by_zero"
    MISSING_QUERY = "missing_query"
    MULTIPLE_QUERIES = "multiple_queries"
    QUERY_NOT_LAST = "query_not_last"  # steps after the query are never used
    NO_PREV_RESULT = "no_prev_result"  # `source: prev.result` with no previous sub-trace
    DEAD_SUBTRACE = "dead_subtrace"  # a sub-trace whose result the next one never reads
    LIMITS_EXCEEDED = "limits_exceeded"  # too many steps, too large a number, ...
    UNGROUNDED_INIT = "ungrounded_init"  # an init value the question does not state


class ParseReason(StrEnum):
    """Why raw model text did not yield a trace at all."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NO_YAML = "no_yaml"  # nothing that looks like a trace
    YAML_ERROR = "yaml_error"  # the candidate text is not valid YAML
    TOO_DEEP = "too_deep"
    ALIASES = "aliases"  # anchors/aliases: never needed by a trace, the alias-bomb vector
    TAGS = "tags"  # explicit tags such as !!python/object
    TOO_MANY_NODES = "too_many_nodes"
    NOT_A_TRACE = "not_a_trace"  # YAML, but not {expert, trace} or a list of them


@dataclass(frozen=True, slots=True)
class ExecError:
    """A typed execution error: `kind` is stable, `message` is for people, `step` is
    the 0-based step index (and `part` the sub-trace index) where it happened."""

    kind: ErrorKind
    message: str
    part: int | None = None
    step: int | None = None

    def where(self) -> str:
        bits = []
        if self.part is not None:
            bits.append(f"sub-trace {self.part + 1}")
        if self.step is not None:
            bits.append(f"step {self.step + 1}")
        return ", ".join(bits)

    def __str__(self) -> str:
        where = self.where()
        return f"{self.kind}: {self.message}" + (f" ({where})" if where else "")


@dataclass(frozen=True, slots=True)
class ParseFailure:
    """Model text that did not parse into a trace."""

    reason: ParseReason
    message: str

    def __str__(self) -> str:
        return f"parse_failure[{self.reason}]: {self.message}"


class TraceError(Exception):
    """Raised inside the runtime to abort execution; never escapes the public API."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class UsageError(ValueError):
    """A caller passed a bad argument (an unparsable reference answer, bad weights).

    Model text never causes this: it is the programmer's mistake, reported at once.
    """
