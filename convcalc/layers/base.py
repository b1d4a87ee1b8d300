"""What a layer type is: its arguments, and one method per rule (shape, params, MACs/FLOPs, RF, torch).

Every layer type is one subclass of `Layer`, registered with `@register`. The rest of convcalc (spec
checking, analysis passes, JSON Schema, docs, the torch builder) reads these classes and nothing else,
so adding a layer type touches one file.
"""

from __future__ import annotations

import difflib
import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Mapping, NamedTuple, Sequence

from convcalc.errors import LayerError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

Shape = tuple[int, ...]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


# --------------------------------------------------------------------------------------------------
# Argument declarations and their type coercion (types only: range checks belong to each layer's
# `check`, so that convcalc rejects exactly what PyTorch rejects, in PyTorch's order).
# --------------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    return {bool: "a boolean", str: "a string", float: "a float", int: "an integer", list: "a list",
            tuple: "a list", dict: "a mapping", type(None): "null"}.get(type(value), type(value).__name__)


class Arg(NamedTuple):
    """One constructor argument, with PyTorch's name and default.

    kind:
      int, float, bool, str  -- a scalar (`choices` restricts a str)
      ints     -- an int or a list of ints, one per spatial dim (or a single-element list, as torch expands)
      ints_exact -- like ints, but a list must have exactly one entry per spatial dim (conv kernel_size)
      padding  -- like ints, or one of the strings in `choices` ('same', 'valid')
      shape    -- an int or a list of ints of any length (LayerNorm's normalized_shape, Upsample size)
      opt_ints -- an int, or a list of exactly one entry per spatial dim, each an int or null (adaptive
                  pools' output_size, where null keeps that dim)
      floats   -- a number or a list of numbers (Upsample's scale_factor)
      dims     -- an int or a list of ints of any length, the empty list included (torch.permute's
                  dims, torch.reshape's shape, torch.mean's dim)
      names    -- a list of layer names (merge inputs); handled by the graph, not the layer
      any      -- passed through unchanged
    """

    name: str
    kind: str
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[Any, ...] = ()
    nullable: bool = False
    inferred: bool = False  # filled from the incoming shape when omitted (in_channels, num_features, ...)
    keyword_only: bool = False  # not accepted positionally in an inline expression

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and not self.inferred

    def coerce(self, value: Any, ndim: int | None) -> Any:
        if value is None:
            if self.nullable or (self.default is None):
                return None
            raise LayerError(f"'{self.name}' must not be null", arg=self.name)
        handler = _COERCERS[self.kind]
        return handler(self, value, ndim)


def _bad(arg: Arg, value: Any, expected: str) -> LayerError:
    return LayerError(f"'{arg.name}' must be {expected}, got {_type_name(value)} {value!r}", arg=arg.name)


def _coerce_int(arg: Arg, value: Any, ndim: int | None) -> int:
    if not _is_int(value):
        raise _bad(arg, value, "an integer")
    return int(value)


def _coerce_float(arg: Arg, value: Any, ndim: int | None) -> float:
    if not _is_number(value):
        raise _bad(arg, value, "a number")
    return float(value)


def _coerce_bool(arg: Arg, value: Any, ndim: int | None) -> bool:
    if not isinstance(value, bool):
        raise _bad(arg, value, "true or false")
    return value


def _coerce_str(arg: Arg, value: Any, ndim: int | None) -> str:
    if not isinstance(value, str):
        raise _bad(arg, value, "a string")
    if arg.choices and value not in arg.choices:
        close = difflib.get_close_matches(value, [str(c) for c in arg.choices], n=1)
        raise LayerError(
            f"'{arg.name}' must be one of {', '.join(repr(c) for c in arg.choices)}, got {value!r}",
            hint=f"did you mean {close[0]!r}?" if close else None,
            arg=arg.name,
        )
    return value


def _int_tuple(arg: Arg, value: Any, ndim: int | None, exact: bool) -> tuple[int, ...]:
    if _is_int(value):
        return (int(value),) * (ndim or 1)
    if isinstance(value, (list, tuple)) and value and all(_is_int(v) for v in value):
        items = tuple(int(v) for v in value)
        if ndim is None or len(items) == ndim:
            return items
        if len(items) == 1 and not exact:
            return items * ndim
        allowed = f"{ndim} integers" if exact else f"1 or {ndim} integers"
        raise LayerError(
            f"'{arg.name}' must be an integer or a list of {allowed} (one per spatial dim), got {list(items)}",
            arg=arg.name,
        )
    raise _bad(arg, value, "an integer or a list of integers")


def _coerce_ints(arg: Arg, value: Any, ndim: int | None) -> tuple[int, ...]:
    return _int_tuple(arg, value, ndim, exact=False)


def _coerce_ints_exact(arg: Arg, value: Any, ndim: int | None) -> tuple[int, ...]:
    return _int_tuple(arg, value, ndim, exact=True)


def _coerce_padding(arg: Arg, value: Any, ndim: int | None) -> tuple[int, ...] | str:
    if isinstance(value, str):
        return _coerce_str(arg, value, ndim)
    return _int_tuple(arg, value, ndim, exact=False)


def _coerce_opt_ints(arg: Arg, value: Any, ndim: int | None) -> tuple[int | None, ...]:
    if _is_int(value):
        return (int(value),) * (ndim or 1)
    if isinstance(value, (list, tuple)) and value and all(v is None or _is_int(v) for v in value):
        if ndim is not None and len(value) != ndim:
            raise LayerError(
                f"'{arg.name}' must be an integer or a list of {ndim} entries (integers or null), got {list(value)}",
                arg=arg.name,
            )
        return tuple(None if v is None else int(v) for v in value)
    raise _bad(arg, value, "an integer or a list of integers (null keeps that dim)")


def _coerce_shape(arg: Arg, value: Any, ndim: int | None) -> tuple[int, ...]:
    if _is_int(value):
        return (int(value),)
    if isinstance(value, (list, tuple)) and value and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise _bad(arg, value, "an integer or a non-empty list of integers")


def _coerce_dims(arg: Arg, value: Any, ndim: int | None) -> tuple[int, ...]:
    if _is_int(value):
        return (int(value),)
    if isinstance(value, (list, tuple)) and all(_is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise _bad(arg, value, "an integer or a list of integers")


def _coerce_floats(arg: Arg, value: Any, ndim: int | None) -> float | tuple[float, ...]:
    if _is_number(value):
        return float(value)
    if isinstance(value, (list, tuple)) and value and all(_is_number(v) for v in value):
        return tuple(float(v) for v in value)
    raise _bad(arg, value, "a number or a list of numbers")


def _coerce_names(arg: Arg, value: Any, ndim: int | None) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _bad(arg, value, "a layer name or a list of layer names")


def _coerce_any(arg: Arg, value: Any, ndim: int | None) -> Any:
    return value


_COERCERS: dict[str, Callable[[Arg, Any, int | None], Any]] = {
    "int": _coerce_int,
    "float": _coerce_float,
    "bool": _coerce_bool,
    "str": _coerce_str,
    "ints": _coerce_ints,
    "ints_exact": _coerce_ints_exact,
    "padding": _coerce_padding,
    "shape": _coerce_shape,
    "opt_ints": _coerce_opt_ints,
    "floats": _coerce_floats,
    "dims": _coerce_dims,
    "names": _coerce_names,
    "any": _coerce_any,
}


# --------------------------------------------------------------------------------------------------
# Receptive fields (Araujo, Norris & Sim, "Computing Receptive Fields of CNNs", Distill 2019)
# --------------------------------------------------------------------------------------------------


class Formula(NamedTuple):
    """One line of a layer's arithmetic for `convcalc explain`: the rule in symbols, then with the numbers.

    `numbers` is an expression of + - * / ( ) floor() ceil() over integers that evaluates (in exact
    fractions) to `value`; tests evaluate it, so an explanation cannot drift from the rule applied.
    """

    topic: str
    rule: str
    numbers: str
    value: int | Fraction


def fnum(value: int | Fraction) -> str:
    """A number inside a `Formula.numbers` expression: 7, (-3), (1/2)."""
    value = Fraction(value)
    text = str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return text if (value.denominator == 1 and value >= 0) else f"({text})"


# A field along one axis: (lo, hi) in input coordinates, or None for an output that reads no input.
Span = tuple[Fraction, Fraction] | None

# The longest period of field patterns kept exactly; beyond it an operation first widens its input to
# one linear field containing every output's field (conservative: sizes may then be overestimated).
MAX_RF_PERIOD = 4096


def _hull(spans: Iterable[Span]) -> Span:
    present = [s for s in spans if s is not None]
    if not present:
        return None
    return min(s[0] for s in present), max(s[1] for s in present)


class AxisRF(NamedTuple):
    """Receptive field of a feature map along one input axis.

    size:  extent in input pixels of the largest field of any output position (padding included)
    jump:  mean distance in input pixels between neighbouring outputs (fractional after upsampling);
           None once the field is global (after Flatten, a global pool, a Linear over everything)
    start: centre of output index 0's field, in input coordinates (may be negative or half-integer)
    pattern: None when every output's field is the same window shifted by `jump` (conv and pool
           stacks). After a transposed conv or an upsampling the fields repeat only with a period P:
           then `pattern[r]` is the exact field (lo, hi) of output r for r < P, and output q*P + r has
           field pattern[r] shifted by q*P*jump. An entry None is an output that reads no input at all
           (a transposed conv position that no kernel tap reaches, when the dilation or kernel is small
           against the stride); such outputs count for neither `size` nor `start`, and when output 0
           is one of them `start` is the centre of the first output r that has a field, less r*jump.
    exact: False once a documented approximation entered the field (interpolating upsampling, a
           nearest resize by a non-integer ratio, a merge of maps on different grids, a pattern whose
           period passed MAX_RF_PERIOD): then `size` is the widest field but single positions' fields
           may differ from `field(o)`.
    dim:   the tensor dim this axis lives on, counted from the end (-1: the last dim); None in the
           default layout, where the axes are the trailing dims in order (axis i of n on dim i - n).
           Permute, Transpose, Reshape and reductions move axes (see `axis_dims`); every operation
           below keeps it. Only a local axis's dim matters: a global one is read whole by every
           output, wherever it is, and its dim may be stale (a dim since reduced away).
    """

    size: Fraction
    jump: Fraction | None
    start: Fraction
    pattern: tuple[Span, ...] | None = None
    exact: bool = True
    dim: int | None = None

    @property
    def is_global(self) -> bool:
        return self.jump is None

    @property
    def period(self) -> int:
        return 1 if self.pattern is None else len(self.pattern)

    def field(self, index: int) -> Span:
        """The exact field (lo, hi) of output `index` in input coordinates (None: it reads no input).
        Indices outside the map extrapolate the pattern, as the sliding windows' padding does."""
        if self.jump is None:
            first = self.start - (self.size - 1) / 2
            return first, first + self.size - 1
        if self.pattern is None:
            centre = self.start + index * self.jump
            return centre - (self.size - 1) / 2, centre + (self.size - 1) / 2
        turns, residue = divmod(index, len(self.pattern))
        span = self.pattern[residue]
        if span is None:
            return None
        shift = turns * len(self.pattern) * self.jump
        return span[0] + shift, span[1] + shift

    @staticmethod
    def from_spans(jump: Fraction, spans: Sequence[Span], exact: bool = True,
                   dim: int | None = None) -> AxisRF:
        """The field whose outputs 0..len(spans)-1 have these fields, repeating with that period."""
        spans = list(spans)
        period = len(spans)
        for divisor in range(1, period + 1):  # the shortest period that repeats them
            if period % divisor:
                continue
            shift = divisor * jump
            if all((spans[r] is None and spans[r - divisor] is None)
                   or (spans[r] is not None and spans[r - divisor] is not None
                       and spans[r] == (spans[r - divisor][0] + shift, spans[r - divisor][1] + shift))
                   for r in range(divisor, period)):
                spans = spans[:divisor]
                break
        present = [(r, s) for r, s in enumerate(spans) if s is not None]
        if not present:  # no output reads any input: keep a point field so that the numbers stay defined
            return AxisRF(Fraction(1), jump, Fraction(0), tuple(spans), exact, dim)
        size = max(hi - lo for _, (lo, hi) in present) + 1
        r, (lo, hi) = present[0]
        start = (lo + hi) / 2 - r * jump
        return AxisRF(size, jump, start, None if len(spans) == 1 else tuple(spans), exact, dim)

    def conservative(self) -> AxisRF:
        """One linear field (period 1) containing every output's exact field (no longer exact)."""
        if self.pattern is None or self.jump is None:
            return self._replace(exact=False)
        offsets = [(s[0] - r * self.jump, s[1] - r * self.jump) for r, s in enumerate(self.pattern) if s is not None]
        if not offsets:
            return AxisRF(self.size, self.jump, self.start, exact=False, dim=self.dim)
        lo, hi = min(o[0] for o in offsets), max(o[1] for o in offsets)
        return AxisRF(hi - lo + 1, self.jump, (lo + hi) / 2, exact=False, dim=self.dim)

    def _gather(self, jump: Fraction, period: int, sources: Callable[[int], Iterable[int]]) -> AxisRF:
        # every output o reads the inputs sources(o); `period` outputs on, it reads inputs a whole number
        # of this field's periods on, so the new fields repeat with `period`
        return AxisRF.from_spans(jump, [_hull(self.field(i) for i in sources(o)) for o in range(period)],
                                 self.exact, self.dim)

    def window(self, kernel: int, stride: int, padding: int, dilation: int = 1) -> "AxisRF":
        """A sliding window (conv, pooling): output o' sees inputs o'*stride - padding + m*dilation."""
        if self.jump is None:
            return self
        if self.pattern is None:
            span = dilation * (kernel - 1)
            return AxisRF(
                size=self.size + span * self.jump,
                jump=self.jump * stride,
                start=self.start + (Fraction(span, 2) - padding) * self.jump,
                exact=self.exact,
                dim=self.dim,
            )
        period = self.period // math.gcd(self.period, stride)
        # taps `cycle` apart read fields one whole number of periods apart (further right), so the
        # extremes of the hull lie among the first and the last `cycle` taps
        cycle = self.period // math.gcd(self.period, dilation)
        taps = list(range(kernel)) if kernel <= 2 * cycle else [*range(cycle), *range(kernel - cycle, kernel)]
        return self._gather(self.jump * stride, period,
                            lambda o: (o * stride - padding + m * dilation for m in taps))

    def transposed_window(self, kernel: int, stride: int, padding: int, dilation: int = 1) -> "AxisRF":
        """A transposed conv: output o gathers the inputs i with o = i*stride - padding + m*dilation."""
        if self.jump is None:
            return self
        if self.period * stride > MAX_RF_PERIOD:
            return self.conservative().transposed_window(kernel, stride, padding, dilation)

        def sources(o: int) -> list[int]:
            taps = (o + padding - m * dilation for m in range(kernel))
            return [t // stride for t in taps if t % stride == 0]

        return self._gather(self.jump / stride, self.period * stride, sources)

    def shifted(self, offset: int) -> AxisRF:
        """Output o is input o + offset (a crop by `offset`, or a pad by -offset)."""
        if self.jump is None:
            return self
        if self.pattern is None:
            return AxisRF(self.size, self.jump, self.start + offset * self.jump, exact=self.exact,
                          dim=self.dim)
        return self._gather(self.jump, self.period, lambda o: (o + offset,))

    def globalised(self, extent: int) -> "AxisRF":
        """Every output depends on every one of the `extent` positions of the incoming map."""
        if self.jump is None:
            return self
        if self.pattern is None or extent <= 0:
            first = self.start - (self.size - 1) / 2
            last = self.start + (extent - 1) * self.jump + (self.size - 1) / 2
        else:  # fields move right period by period: the extremes lie in the first and last periods
            ends = [self.field(o) for o in {*range(min(extent, self.period)), *range(max(0, extent - self.period), extent)}]
            hull = _hull(ends)
            if hull is None:
                return AxisRF(Fraction(1), None, self.start, exact=self.exact, dim=self.dim)
            first, last = hull
        return AxisRF(size=last - first + 1, jump=None, start=(first + last) / 2, exact=self.exact,
                      dim=self.dim)

    def window_formulas(self, label: str, kernel: int, stride: int, padding: int, dilation: int = 1) -> list[Formula]:
        """`window`'s recurrence written out (Araujo et al.: r += d(k-1)j, j *= s, start += (d(k-1)/2 - p)j)."""
        if self.jump is None:
            return []
        after = self.window(kernel, stride, padding, dilation)
        j = fnum(self.jump)
        if self.pattern is not None:  # fields that repeat with a period: no closed form, the hull is taken
            return [
                Formula(f"RF size ({label})", "r_out = widest hull of the fields of the d-spaced inputs of one "
                        f"output (the input's fields repeat every {self.period} positions)",
                        fnum(after.size), after.size),
                Formula(f"jump ({label})", "j_out = j_in*s", f"{j}*{stride}", after.jump),  # type: ignore[arg-type]
                Formula(f"RF start ({label})", "start_out = centre of the hull of output 0's inputs' fields",
                        fnum(after.start), after.start),
            ]
        return [
            Formula(f"RF size ({label})", "r_out = r_in + d*(k-1)*j_in",
                    f"{fnum(self.size)} + {dilation}*({kernel}-1)*{j}", after.size),
            Formula(f"jump ({label})", "j_out = j_in*s", f"{j}*{stride}", after.jump),  # type: ignore[arg-type]
            Formula(f"RF start ({label})", "start_out = start_in + (d*(k-1)/2 - p)*j_in",
                    f"{fnum(self.start)} + ({dilation}*({kernel}-1)/2 - {padding})*{j}", after.start),
        ]

    def transposed_window_formulas(self, label: str, kernel: int, stride: int, padding: int,
                                   dilation: int = 1) -> list[Formula]:
        """`transposed_window`'s recurrence written out."""
        if self.jump is None:
            return []
        after = self.transposed_window(kernel, stride, padding, dilation)
        j = fnum(self.jump)
        jump = Formula(f"jump ({label})", "j_out = j_in/s", f"{j}/{stride}", after.jump)  # type: ignore[arg-type]
        if self.pattern is not None:
            return [
                Formula(f"RF size ({label})", "r_out = widest hull of the fields of the inputs feeding one output "
                        f"(the input's fields repeat every {self.period} positions)", fnum(after.size), after.size),
                jump,
                Formula(f"RF start ({label})", "start_out = centre of the hull of output 0's inputs' fields",
                        fnum(after.start), after.start),
            ]
        widest = (after.size - self.size) / self.jump
        # output 0's field (or the first output that any input reaches): inputs first..last feed it
        first_out = next(o for o in range(stride) if any((o + padding - m * dilation) % stride == 0
                                                         for m in range(kernel)))
        fed = [(first_out + padding - m * dilation) // stride for m in range(kernel)
               if (first_out + padding - m * dilation) % stride == 0]
        shift = f" - {first_out}*{j}/{stride}" if first_out else ""
        return [
            Formula(f"RF size ({label})", "r_out = r_in + w*j_in (w: widest span of inputs feeding one output)",
                    f"{fnum(self.size)} + {fnum(widest)}*{j}", after.size),
            jump,
            Formula(f"RF start ({label})", "start_out = start_in + (i_first + i_last)/2*j_in (i: the inputs "
                    "feeding output 0; the fields repeat with a period, so no linear rule holds)",
                    f"{fnum(self.start)} + ({fnum(min(fed))} + {fnum(max(fed))})/2*{j}{shift}", after.start),
        ]

    def union(self, other: "AxisRF") -> "AxisRF":
        """The field of an output that reads both maps at the same index (a merge: Add, Concat)."""
        if (self.jump is not None and self.jump == other.jump
                and (self.pattern is not None or other.pattern is not None)):
            a, b = self, other
            period = a.period * b.period // math.gcd(a.period, b.period)
            if period > MAX_RF_PERIOD:
                a, b = a.conservative(), b.conservative()
                period = 1
            return AxisRF.from_spans(self.jump, [_hull((a.field(o), b.field(o))) for o in range(period)],
                                     a.exact and b.exact, self.dim)
        # different grids (or a global side): the hull of output 0's fields, with the coarser jump;
        # patterns are dropped, as no one period describes both
        lo = min(self.start - (self.size - 1) / 2, other.start - (other.size - 1) / 2)
        hi = max(self.start + (self.size - 1) / 2, other.start + (other.size - 1) / 2)
        if self.jump is None or other.jump is None:
            jump = None
        else:
            jump = max(self.jump, other.jump)
        exact = self.exact and other.exact and (jump is None or self.jump == other.jump)
        return AxisRF(size=hi - lo + 1, jump=jump, start=(lo + hi) / 2, exact=exact, dim=self.dim)


RF = tuple[AxisRF, ...]


def identity_rf(ndim: int) -> RF:
    return tuple(AxisRF(Fraction(1), Fraction(1), Fraction(0)) for _ in range(ndim))


def axis_dims(rf: Sequence[AxisRF], rank: int) -> list[int | None]:
    """Per axis of `rf`, the dim (0 .. rank-1) of a tensor of this rank that it lives on, or None.

    In the default layout (`dim` None) axis i of n is on dim rank - n + i, never on dim 0, which is the
    network input's batch dim: after a rank-reducing Flatten the leftover axes are global anyway.
    """
    found: list[int | None] = []
    for i, axis in enumerate(rf):
        if axis.dim is None:
            dim, lowest = rank - len(rf) + i, 1
        else:
            dim, lowest = rank + axis.dim, 0
        found.append(dim if lowest <= dim < rank else None)
    return found


def placed(rf: Sequence[AxisRF], dims: Sequence[int | None], rank: int) -> RF:
    """`rf` with axis i moved to dim dims[i] (0 .. rank-1) of a tensor of rank `rank`.

    None leaves an axis where it was (only a global axis, whose dim no longer matters, may have none).
    The result is in the default layout (every `dim` None) whenever that puts every local axis on the
    same dim, so that a permutation and its inverse give back exactly the field they started from.
    """
    default = axis_dims([a._replace(dim=None) for a in rf], rank)
    if all(a.is_global or d == at for a, d, at in zip(rf, dims, default)):
        return tuple(a if a.dim is None else a._replace(dim=None) for a in rf)
    return tuple(a if d is None else a._replace(dim=d - rank) for a, d in zip(rf, dims))


# --------------------------------------------------------------------------------------------------
# The layer base class and the registry
# --------------------------------------------------------------------------------------------------

REGISTRY: dict[str, type["Layer"]] = {}


def register(cls: type["Layer"]) -> type["Layer"]:
    key = cls.type_name.lower()
    if key in REGISTRY:
        raise RuntimeError(f"layer type {cls.type_name} registered twice")
    REGISTRY[key] = cls
    for alias in cls.aliases:
        REGISTRY.setdefault(alias.lower(), cls)
    return cls


def lookup(type_name: str) -> type["Layer"]:
    """The layer class for a type name (case-insensitive); LayerError with a did-you-mean otherwise."""
    from convcalc import layers  # noqa: F401  (registers every family)

    cls = REGISTRY.get(type_name.lower())
    if cls is not None:
        return cls
    names = sorted({c.type_name for c in REGISTRY.values()})
    close = difflib.get_close_matches(type_name, names, n=3, cutoff=0.5)
    if not close:
        lowered = {n.lower(): n for n in names}
        close = [lowered[m] for m in difflib.get_close_matches(type_name.lower(), list(lowered), n=3, cutoff=0.5)]
    hint = f"did you mean {' or '.join(close)}?" if close else "run `convcalc layers` to list the layer types"
    raise LayerError(f"unknown layer type '{type_name}'", hint=hint, arg="type")


def all_layer_types() -> list[type["Layer"]]:
    from convcalc import layers  # noqa: F401

    return sorted({cls for cls in REGISTRY.values()}, key=lambda c: (c.family, c.type_name))


def fmt_shape(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def axis_label(ndim: int, axis: int) -> str:
    """The conventional name of a spatial dim: L; H, W; D, H, W."""
    names = {1: "L", 2: "HW", 3: "DHW"}.get(ndim)
    return names[axis] if names else str(axis)


class Layer:
    """One node of a network: arguments checked and coerced, the output shape and every count derived.

    Subclasses set the class attributes and override the rules they need; a rule that is not
    overridden means "this layer contributes nothing" (0 params, 0 MACs, receptive field unchanged).
    """

    type_name: ClassVar[str]
    family: ClassVar[str]
    summary: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    args: ClassVar[tuple[Arg, ...]] = ()
    ndim: ClassVar[int | None] = None  # spatial dims, for the families that have them
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    # The counting convention of this layer's `flops`, in words, for docs and `explain`.
    flops_rule: ClassVar[str] = "0"
    # Several outputs (Split, Chunk): later layers read output k as `name.k`; `output_shape` is output 0's.
    multi_output: ClassVar[bool] = False
    # True where `rf` is written for the default layout, the spatial axes being the trailing
    # `spatial_rank()` dims in order (convolutions, pooling, resizing): `receptive_field` then hands the
    # layer its axes in tensor order, whatever Permute or Transpose did before it.
    trailing_spatial: ClassVar[bool] = False
    # The name of the one parameter that torch models keep directly on the parent module under this
    # layer's name (ConvNeXt's layer_scale): the built network's state_dict names it by the layer's
    # name alone.
    own_state_key: ClassVar[str | None] = None

    def __init__(self, raw_args: Mapping[str, Any], in_shapes: Sequence[Shape], in_names: Sequence[str] = ()) -> None:
        self.values: dict[str, Any] = self.coerce_args(raw_args)
        self.in_shapes: tuple[Shape, ...] = tuple(tuple(s) for s in in_shapes)
        self.in_names: tuple[str, ...] = tuple(in_names)  # the input layers' names, for error messages
        self._check_arity()
        self.check()
        self.out_shape: Shape = tuple(self.output_shape())

    # -- arguments -------------------------------------------------------------------------------
    @classmethod
    def arg_names(cls) -> list[str]:
        return [a.name for a in cls.args]

    @classmethod
    def coerce_args(cls, raw_args: Mapping[str, Any]) -> dict[str, Any]:
        known = {a.name: a for a in cls.args}
        for key in raw_args:
            if key not in known:
                close = difflib.get_close_matches(str(key), list(known), n=1)
                accepted = ", ".join(known) or "no arguments"
                raise LayerError(
                    f"{cls.type_name} has no argument '{key}'",
                    hint=(f"did you mean '{close[0]}'? " if close else "") + f"{cls.type_name} takes: {accepted}",
                    arg=str(key),
                )
        values: dict[str, Any] = {}
        for arg in cls.args:
            if arg.name in raw_args:
                values[arg.name] = arg.coerce(raw_args[arg.name], cls.ndim)
            elif arg.required:
                raise LayerError(
                    f"{cls.type_name} needs '{arg.name}'" + (f" ({arg.doc})" if arg.doc else ""),
                    arg=arg.name,
                )
            elif arg.inferred:
                values[arg.name] = None
            else:
                default = arg.default
                values[arg.name] = arg.coerce(default, cls.ndim) if default is not None else None
        return values

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(name)

    def _check_arity(self) -> None:
        n = len(self.in_shapes)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            if self.max_inputs == self.min_inputs:
                expected = f"{self.min_inputs} input" + ("s" if self.min_inputs != 1 else "")
            elif self.max_inputs is None:
                expected = f"at least {self.min_inputs} inputs"
            else:
                expected = f"{self.min_inputs} to {self.max_inputs} inputs"
            raise LayerError(f"{self.type_name} takes {expected}, got {n}", arg="inputs")

    def infer(self, name: str, value: int, what: str) -> int:
        """Fill an inferred argument, or insist that the one given agrees with the incoming shape."""
        given = self.values.get(name)
        if given is not None and given != value:
            raise LayerError(
                f"{name}={given} but the incoming shape {fmt_shape(self.in_shape)} has {value} {what}",
                hint=f"drop '{name}' (convcalc infers it) or fix the layer before this one",
                arg=name,
            )
        self.values[name] = value
        return value

    @property
    def in_shape(self) -> Shape:
        return self.in_shapes[0]

    def resolved_args(self) -> dict[str, Any]:
        """Every argument with its final value (inferred ones filled in), for reports and the builder."""
        return dict(self.values)

    # -- rules: subclasses override what applies ----------------------------------------------------
    def check(self) -> None:
        """Raise LayerError where PyTorch would raise, for these arguments and this input."""

    def output_shape(self) -> Shape:
        return self.in_shape

    def output_shapes(self) -> tuple[Shape, ...]:
        """Every output's shape: one for most layers, one per piece for Split and Chunk."""
        return (self.out_shape,)

    def output_rfs(self, in_rfs: Sequence[RF]) -> tuple[RF, ...]:
        """Every output's receptive field, in the order of `output_shapes`."""
        return (self.receptive_field(in_rfs),)

    def params(self) -> int:
        return 0

    def buffers(self) -> int:
        return 0

    def macs(self) -> int:
        return 0

    def flops(self) -> int:
        return 0

    def fvcore_flops(self) -> int:
        """What fvcore's FlopCountAnalysis counts for this layer (its conventions, not its defects)."""
        return 0

    def torch_flops(self) -> int:
        """What torch.utils.flop_counter.FlopCounterMode counts for this layer."""
        return 0

    def fvcore_note(self) -> str | None:
        """A known way in which real fvcore differs from `fvcore_flops` here, if any."""
        return None

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        """Receptive field after this layer; default: elementwise, unchanged."""
        return in_rfs[0]

    def spatial_rank(self) -> int:
        """How many trailing dims a `trailing_spatial` layer treats as spatial."""
        return self.ndim if self.ndim else len(self.in_shape) - 2

    def receptive_field(self, in_rfs: Sequence[RF]) -> RF:
        """The field after this layer for inputs in any layout: what the analysis calls.

        Most rules hold in any layout: they find the axis behind a tensor dim with `spatial_index`,
        and every AxisRF operation keeps the axis's dim. A `trailing_spatial` layer gets its local
        axes in the order of its trailing dims and its result is put back on the axes they came from;
        when a local axis is not among those dims (a spatial dim standing where the layer sees
        channels), every local axis conservatively becomes global and inexact.
        """
        slots = self._spatial_slots(in_rfs)
        if slots is None:
            return self.rf(in_rfs)
        rf = in_rfs[0]
        if not slots:
            dims = axis_dims(rf, len(self.in_shape))
            return tuple(a if a.is_global else a.globalised(1 if d is None else self.in_shape[d])._replace(exact=False)
                         for a, d in zip(rf, dims))
        out = self.rf(self.rules_view(in_rfs))
        result = list(rf)
        for slot, i in enumerate(slots):
            if i is not None:
                result[i] = out[slot]._replace(dim=rf[i].dim)
        return tuple(result)

    def rules_view(self, in_rfs: Sequence[RF]) -> list[RF]:
        """The inputs' fields as `rf` and `formulas` read them: as they are, but for a `trailing_spatial`
        layer in another layout its local axes in the order of its trailing dims (global fillers for
        dims without one), or no field at all where a local axis is elsewhere."""
        slots = self._spatial_slots(in_rfs)
        if slots is None:
            return list(in_rfs)
        if not slots:
            return []
        filler = AxisRF(Fraction(1), None, Fraction(0))
        return [tuple(filler if i is None else in_rfs[0][i]._replace(dim=None) for i in slots), *in_rfs[1:]]

    def _spatial_slots(self, in_rfs: Sequence[RF]) -> list[int | None] | None:
        """For a `trailing_spatial` layer whose input is not in the default layout: per trailing spatial
        dim, the local axis on it (or None); [] when a local axis is on another dim. None otherwise."""
        if not self.trailing_spatial or not in_rfs:
            return None
        rf, rank, count = in_rfs[0], len(self.in_shape), self.spatial_rank()
        if len(rf) == count and all(a.dim is None for a in rf):
            return None
        first = rank - count
        slots: list[int | None] = [None] * count
        for i, (axis, dim) in enumerate(zip(rf, axis_dims(rf, rank))):
            if axis.is_global:
                continue
            if dim is None or dim < first:
                return []
            slots[dim - first] = i
        return slots

    def formulas(self, in_rfs: Sequence[RF]) -> list[Formula]:
        """The arithmetic behind this layer's shape, params, MACs and receptive field, for `explain`.

        Empty by default: `explain` then shows the numbers without a written-out rule.
        """
        return []

    def ambiguity(self) -> dict[str, Any] | None:
        """For strided layers: which input sizes give the same output (see conv and pool)."""
        return None

    def build(self) -> "torch.nn.Module":
        raise NotImplementedError(f"{self.type_name} cannot be built in torch")

    # -- helpers for subclasses ---------------------------------------------------------------------
    def numel(self, shape: Shape | None = None) -> int:
        return math.prod(self.out_shape if shape is None else shape)


class Composite:
    """A convenience type that expands into real layers once the incoming shape is known."""

    type_name: ClassVar[str]
    family: ClassVar[str] = "composite"
    summary: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    args: ClassVar[tuple[Arg, ...]] = ()
    ndim: ClassVar[int | None] = None

    @classmethod
    def expand(cls, raw_args: Mapping[str, Any], in_shape: Shape) -> list[tuple[str, str, dict[str, Any]]]:
        """Return (suffix, type name, args) for each real layer, in order."""
        raise NotImplementedError


COMPOSITES: dict[str, type[Composite]] = {}


def register_composite(cls: type[Composite]) -> type[Composite]:
    COMPOSITES[cls.type_name.lower()] = cls
    for alias in cls.aliases:
        COMPOSITES[alias.lower()] = cls
    return cls

