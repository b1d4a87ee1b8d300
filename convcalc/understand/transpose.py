"""The output_padding ambiguity of transposed convolutions, solved in both directions.

A strided convolution (or pooling) floors: `stride` neighbouring input sizes give the same output size.
Going back, a ConvTranspose therefore cannot know which of them to produce; `output_padding` (or
PyTorch's `forward(output_size=...)`) picks one. This module answers, per spatial dim:

- forward -> back: for a conv-like layer and an input, every input size with the same output, and the
  ConvTranspose (with its output_padding) that returns to each of them;
- back -> target: for a ConvTranspose and a target size, the output_padding that reaches it, or when none
  does, the sizes that are reachable and the nearest single-argument changes that would reach it.

Every size is computed by the layer classes (`out_size`, `valid_output_paddings`, `ambiguity`): this
module only searches over their arguments.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import Layer, Shape, fmt_shape
from convcalc.understand.layerexpr import axis_names, layer_expression, make_layer, with_args

# Arguments tried, in this order of preference, when no output_padding reaches the target.
CHANGEABLE = ("padding", "kernel_size", "stride", "dilation")
_MAX_STEPS = 4096


def is_transposed(layer: Layer) -> bool:
    """A layer whose output size has an output_padding choice (ConvTranspose*d)."""
    return callable(getattr(layer, "valid_output_paddings", None))


def is_window(layer: Layer) -> bool:
    """A sliding-window layer (conv, pooling) that a ConvTranspose can mirror."""
    return layer.values.get("kernel_size") is not None and (layer.ndim or 0) > 0 and not is_transposed(layer)


def spatial_of(layer: Layer, shape: Shape | None = None) -> Shape:
    nd = layer.ndim or 0
    shape = layer.in_shape if shape is None else shape
    return tuple(shape[len(shape) - nd:])


def _per_dim(value: Any, nd: int, default: int) -> tuple[int, ...]:
    if value is None:
        return (default,) * nd
    if isinstance(value, int):
        return (value,) * nd
    return tuple(int(v) for v in value)


def window_geometry(layer: Layer) -> dict[str, tuple[int, ...]]:
    """kernel_size, stride, dilation and (left, right) padding of a sliding-window layer, per dim."""
    nd = layer.ndim or 0
    kernel = _per_dim(layer.values.get("kernel_size"), nd, 1)
    stride = _per_dim(layer.values.get("stride"), nd, 1) if layer.values.get("stride") is not None else kernel
    dilation = _per_dim(layer.values.get("dilation"), nd, 1)
    pads = getattr(layer, "pads_lr", None)
    if callable(pads):
        left, right = pads()
    else:
        left = right = _per_dim(layer.values.get("padding"), nd, 0)
    return {"kernel_size": kernel, "stride": stride, "dilation": dilation,
            "pad_left": tuple(left), "pad_right": tuple(right)}


# --------------------------------------------------------------------------------------------------
# ConvTranspose + target -> output_padding
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One argument of one spatial dim changed so that an output_padding reaches the target."""

    arg: str
    axis: int
    old: int
    new: int
    output_padding: int
    expression: str

    def describe(self, names: Sequence[str]) -> str:
        op = f", output_padding {self.output_padding}" if self.output_padding else ""
        return f"{self.arg} {self.old} -> {self.new} in dim {names[self.axis]}{op}:  {self.expression}"

    def to_dict(self) -> dict[str, Any]:
        return {"arg": self.arg, "axis": self.axis, "from": self.old, "to": self.new,
                "output_padding": self.output_padding, "layer": self.expression}


@dataclass(frozen=True)
class AxisAnswer:
    axis: int
    in_size: int
    target: int
    options: tuple[tuple[int, int], ...]  # (output_padding, size) for every output_padding the constructor accepts
    forward_sizes: tuple[int, ...]  # the sizes `forward(x, output_size=...)` accepts (only output_padding < stride)
    output_padding: int | None  # None: unreachable
    changes: tuple[Change, ...] = ()
    input_sizes: tuple[int, ...] = ()  # other input sizes from which this layer reaches the target
    below: int | None = None  # largest reachable size under the target (pad up from it)
    above: int | None = None  # smallest reachable size over the target (crop down from it)

    @property
    def reachable(self) -> list[int]:
        return sorted({size for _, size in self.options})

    @property
    def ok(self) -> bool:
        return self.output_padding is not None

    @property
    def forward_ok(self) -> bool:
        return self.target in self.forward_sizes

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "axis": self.axis, "input": self.in_size, "target": self.target,
            "output_padding": self.output_padding, "reachable": self.reachable,
            "options": [{"output_padding": op, "size": size} for op, size in self.options],
            "forward_output_size_accepts": list(self.forward_sizes),
        }
        if not self.ok:
            data["changes"] = [c.to_dict() for c in self.changes]
            data["input_sizes"] = list(self.input_sizes)
            data["pad_from"] = self.below
            data["crop_from"] = self.above
        return data


@dataclass(frozen=True)
class TransposeAnswer:
    """A ConvTranspose asked to reach `target` (spatial sizes)."""

    layer: Layer
    target: Shape
    axes: tuple[AxisAnswer, ...]
    solved: Layer | None  # the layer with the solved output_padding, when every dim is reachable

    @property
    def ok(self) -> bool:
        return self.solved is not None

    @property
    def output_padding(self) -> tuple[int, ...] | None:
        return tuple(a.output_padding for a in self.axes) if self.ok else None  # type: ignore[misc]

    @property
    def forward_ok(self) -> bool:
        """Whether PyTorch's `forward(x, output_size=target)` accepts this target too."""
        return all(a.forward_ok for a in self.axes)

    @property
    def expression(self) -> str | None:
        return layer_expression(self.solved) if self.solved is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": layer_expression(self.layer),
            "input_shape": list(self.layer.in_shape),
            "target": list(self.target),
            "reachable": self.ok,
            "output_padding": list(self.output_padding) if self.ok else None,  # type: ignore[arg-type]
            "solved_layer": self.expression,
            "output_shape": list(self.solved.out_shape) if self.solved is not None else None,
            "forward_output_size_ok": self.forward_ok,
            "dims": [a.to_dict() for a in self.axes],
        }


def _options(layer: Layer, axis: int, n: int) -> tuple[tuple[int, int], ...]:
    """(output_padding, output size) pairs torch accepts in `axis` for input size n, the other dims as they are.

    Each candidate is built as a whole layer: another dim's empty output, say, is fine for oneDNN but
    not for the native kernel a nonzero output_padding selects, so a size alone does not prove validity.
    """
    ndim = layer.ndim or 0
    shape = list(layer.in_shape)
    shape[len(shape) - ndim + axis] = n
    options = []
    for op in layer.valid_output_paddings(axis):
        ops = list(layer.output_padding)
        ops[axis] = op
        try:
            variant = with_args(layer, in_shape=tuple(shape), output_padding=tuple(ops), output_size=None)
        except LayerError:
            continue
        size = variant.out_shape[len(variant.out_shape) - ndim + axis]
        if size > 0:
            options.append((op, size))
    return tuple(options)


def _forward_sizes(layer: Layer, axis: int, n: int) -> tuple[int, ...]:
    # PyTorch's forward(output_size=) accepts only output_padding < stride, even where the constructor
    # (output_padding < max(stride, dilation)) accepts more.
    allowed = range(min(layer.stride[axis], len(layer.valid_output_paddings(axis))))
    return tuple(size for op, size in _options(layer, axis, n) if op in allowed)


def construct(type_name: str, args: dict[str, Any], in_shape: Shape) -> Layer:
    """Build a ConvTranspose whose output_padding is still free: try all-zero, then the largest values."""
    base = {k: v for k, v in args.items() if k not in ("output_padding", "output_size")}
    try:
        return make_layer(type_name, dict(base, output_padding=0), in_shape)
    except LayerError as first:
        from convcalc.layers.base import lookup

        nd = lookup(type_name).ndim or 0
        stride = _per_dim(base.get("stride", 1), nd, 1)
        dilation = _per_dim(base.get("dilation", 1), nd, 1)
        widest = [max(s, d) - 1 for s, d in zip(stride, dilation)]
        try:
            return make_layer(type_name, dict(base, output_padding=widest), in_shape)
        except LayerError:
            raise first from None


def _free(layer: Layer) -> Layer:
    """The same ConvTranspose with output_padding reset, so that it can be solved afresh."""
    args = {k: v for k, v in layer.resolved_args().items() if v is not None}
    return construct(layer.type_name, args, layer.in_shape)


def choices(layer: Layer) -> tuple[Layer, list[dict[str, Any]]]:
    """A ConvTranspose with output_padding left free, and per dim every (output_padding, size) it allows."""
    free = _free(layer)
    dims = []
    for i, n in enumerate(spatial_of(free)):
        dims.append({"axis": i, "input": n,
                     "options": [{"output_padding": op, "size": s} for op, s in _options(free, i, n)],
                     "forward_output_size_accepts": list(_forward_sizes(free, i, n))})
    return free, dims


def _distance(target: int, sizes: Sequence[int]) -> int:
    return min(abs(target - s) for s in sizes) if sizes else math.inf  # type: ignore[return-value]


def _variant(layer: Layer, arg: str, axis: int, value: int) -> Layer | None:
    current = list(getattr(layer, arg))
    current[axis] = value
    ops = list(layer.output_padding)
    ops[axis] = 0
    try:
        return with_args(layer, **{arg: tuple(current), "output_padding": tuple(ops)})
    except LayerError:
        return None


def _walk(start: int, step: int, low: int) -> Iterator[int]:
    value = start + step
    for _ in range(_MAX_STEPS):
        if value < low:
            return
        yield value
        value += step


def _scan(sizes_at: Callable[[int], Sequence[int] | None], start: int, low: int, target: int,
          direction: int) -> int | None:
    """The nearest value from `start` in `direction` whose reachable sizes include `target`.

    Sizes are monotone in every argument, so the scan stops once it moves away from the target.
    """
    previous = math.inf
    seen_valid = False
    for value in _walk(start, direction, low):
        sizes = sizes_at(value)
        if sizes is None:
            if seen_valid or abs(value - start) > 64:  # invalid from here on (the output became too small)
                return None
            continue
        seen_valid = True
        if target in sizes:
            return value
        distance = _distance(target, sizes)
        if distance >= previous:
            return None
        previous = distance
    return None


def _nearest_changes(layer: Layer, axis: int, n: int, target: int) -> list[Change]:
    changes: list[Change] = []
    for arg in CHANGEABLE:
        if arg not in layer.values:
            continue
        old = getattr(layer, arg)[axis]
        low = 0 if arg == "padding" else 1

        def sizes_at(value: int, arg: str = arg) -> list[int] | None:
            variant = _variant(layer, arg, axis, value)
            return None if variant is None else [s for _, s in _options(variant, axis, n)]

        for direction in (-1, 1):
            found = _scan(sizes_at, old, low, target, direction)
            if found is None:
                continue
            variant = _variant(layer, arg, axis, found)
            assert variant is not None
            op = dict((s, o) for o, s in reversed(_options(variant, axis, n)))[target]
            ops = list(variant.output_padding)
            ops[axis] = op
            # the other dims keep their own (already solved or original) output_padding
            try:
                solved = with_args(variant, output_padding=tuple(ops))
            except LayerError:  # valid in this dim, but the whole layer is not (e.g. another dim's size)
                continue
            changes.append(Change(arg, axis, old, found, op, layer_expression(solved)))
    changes.sort(key=lambda c: (abs(c.new - c.old), CHANGEABLE.index(c.arg)))
    return changes


def _input_sizes(layer: Layer, axis: int, n: int, target: int) -> tuple[int, ...]:
    found = []
    for direction in (-1, 1):
        value = _scan(lambda m: [s for _, s in _options(layer, axis, m)], n, 1, target, direction)
        if value is not None:
            found.append(value)
    return tuple(sorted(found))


def solve_axis(layer: Layer, axis: int, target: int) -> AxisAnswer:
    n = spatial_of(layer)[axis]
    options = _options(layer, axis, n)
    forward = _forward_sizes(layer, axis, n)
    for op, size in options:
        if size == target:
            return AxisAnswer(axis, n, target, options, forward, op)
    sizes = [s for _, s in options]
    below = max((s for s in sizes if s < target), default=None)
    above = min((s for s in sizes if s > target), default=None)
    return AxisAnswer(axis, n, target, options, forward, None, tuple(_nearest_changes(layer, axis, n, target)),
                      _input_sizes(layer, axis, n, target), below, above)


def nearest_changes_hint(layer: Layer, axis: int, target: int, limit: int = 3) -> str:
    """One line for an error hint: the nearest argument changes that let `layer` reach `target` in `axis`."""
    names = axis_names(layer.ndim or 0)
    n = spatial_of(layer)[axis]
    try:
        changes = _nearest_changes(layer, axis, n, target)[:limit]
    except LayerError:
        changes = []
    parts = [f"{c.arg} {c.old} -> {c.new}" + (f" with output_padding {c.output_padding}" if c.output_padding else "")
             for c in changes]
    inputs = _input_sizes(layer, axis, n, target)
    if inputs:
        parts.append(f"an input of size {' or '.join(map(str, inputs))}")
    if not parts:
        return "crop or pad the other branch"
    return f"in dim {names[axis]} try: {'; '.join(parts)}; or crop/pad the other branch"


def target_spatial(layer: Layer, target: Sequence[int]) -> Shape:
    """Accept what PyTorch's output_size accepts (spatial sizes, or the full shape) plus one int for all dims."""
    nd = layer.ndim or 0
    sizes = tuple(target)
    if len(sizes) == 1 and nd > 1:
        sizes = sizes * nd
    if len(sizes) not in (nd, nd + 1, nd + 2):
        raise LayerError(f"the target must have {nd} spatial sizes (or be a full shape), got {fmt_shape(sizes)}",
                         arg="output_size")
    sizes = sizes[len(sizes) - nd:]
    if any(s < 1 for s in sizes):
        raise LayerError(f"target sizes must be positive, got {fmt_shape(sizes)}", arg="output_size")
    return sizes


def solve(layer: Layer, target: Sequence[int]) -> TransposeAnswer:
    """Solve output_padding of a ConvTranspose layer for a target output size (spatial, or a full shape)."""
    if not is_transposed(layer):
        raise LayerError(f"{layer.type_name} has no output_padding to solve", arg="type")
    free = _free(layer)
    sizes = target_spatial(free, target)
    axes = tuple(solve_axis(free, i, t) for i, t in enumerate(sizes))
    solved = None
    if all(a.ok for a in axes):
        solved = with_args(free, output_padding=tuple(a.output_padding for a in axes))
    return TransposeAnswer(free, sizes, axes, solved)


def describe_failure(answer: TransposeAnswer, limit: int = 4) -> list[str]:
    """Plain sentences for the dims a TransposeAnswer cannot reach: what is reachable and what would fix it."""
    names = axis_names(answer.layer.ndim or 0)
    lines = []
    for a in answer.axes:
        if a.ok:
            continue
        ops = [op for op, _ in a.options]
        lines.append(f"dim {names[a.axis]}: no output_padding reaches {a.target}: from {a.in_size} this layer "
                     f"reaches {', '.join(map(str, a.reachable))} (output_padding {min(ops)}..{max(ops)})")
        for change in a.changes[:limit]:
            lines.append(f"  change {change.describe(names)}")
        if a.input_sizes:
            lines.append(f"  or feed it an input of size {' or '.join(map(str, a.input_sizes))} in dim "
                         f"{names[a.axis]}")
        if a.above is not None:
            lines.append(f"  or crop the output from {a.above} to {a.target} ({a.above - a.target} fewer)")
        if a.below is not None:
            lines.append(f"  or pad the output from {a.below} to {a.target} ({a.target - a.below} more)")
    return lines


# --------------------------------------------------------------------------------------------------
# conv (or pooling) + input -> the equivalent inputs, and the ConvTranspose back to each
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InverseRow:
    input_spatial: Shape
    answer: TransposeAnswer


@dataclass(frozen=True)
class InverseAnswer:
    """A forward sliding-window layer, the input sizes it cannot tell apart, and the way back to each."""

    layer: Layer
    classes: tuple[tuple[int, ...], ...]  # per dim: every input size with the same output size
    mirror: Layer  # the ConvTranspose with the layer's kernel/stride/padding/dilation, output_padding free
    rows: tuple[InverseRow, ...] = field(default=())

    @property
    def count(self) -> int:
        return math.prod(len(c) for c in self.classes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": layer_expression(self.layer),
            "input_shape": list(self.layer.in_shape),
            "output_shape": list(self.layer.out_shape),
            "equivalent_input_sizes": [list(c) for c in self.classes],
            "transpose": layer_expression(self.mirror),
            "inverses": [
                {"input": list(r.input_spatial), "reachable": r.answer.ok,
                 "output_padding": list(r.answer.output_padding) if r.answer.ok else None,  # type: ignore[arg-type]
                 "layer": r.answer.expression,
                 "forward_output_size_ok": r.answer.forward_ok,
                 **({} if r.answer.ok else {"dims": [a.to_dict() for a in r.answer.axes if not a.ok]})}
                for r in self.rows
            ],
        }


def equivalent_input_sizes(layer: Layer) -> tuple[tuple[int, ...], ...]:
    """Per dim, every input size that gives this layer's output size (from the layer's own `ambiguity`)."""
    spatial = spatial_of(layer)
    info = layer.ambiguity() or {}
    ranges = info.get("equivalent_input_sizes")
    if not ranges:
        return tuple((n,) for n in spatial)
    return tuple(tuple(range(lo, hi + 1)) for lo, hi in ranges)


def mirror_transpose(layer: Layer) -> Layer:
    """The ConvTranspose that runs `layer`'s window backwards: out -> in channels, same kernel, stride,
    dilation; the larger of the two paddings (an asymmetric 'same' padding leaves the rest to output_padding).
    """
    nd = layer.ndim or 0
    geo = window_geometry(layer)
    channels_in = layer.in_shape[len(layer.in_shape) - nd - 1]
    channels_out = layer.out_shape[len(layer.out_shape) - nd - 1]
    groups = layer.values.get("groups") or 1
    args: dict[str, Any] = {
        "in_channels": channels_out, "out_channels": channels_in, "kernel_size": geo["kernel_size"],
        "stride": geo["stride"], "padding": tuple(max(lo, hi) for lo, hi in zip(geo["pad_left"], geo["pad_right"])),
        "dilation": geo["dilation"],
    }
    if groups != 1:
        args["groups"] = groups
    try:
        return construct(f"ConvTranspose{nd}d", args, layer.out_shape)
    except LayerError:
        # the larger padding trims the whole output (tiny maps): the smaller one leaves something to crop
        args["padding"] = tuple(min(lo, hi) for lo, hi in zip(geo["pad_left"], geo["pad_right"]))
        return construct(f"ConvTranspose{nd}d", args, layer.out_shape)


def invert(layer: Layer) -> InverseAnswer:
    """For a forward conv/pool: the equivalent input sizes and the solved ConvTranspose back to each."""
    if not is_window(layer):
        raise LayerError(f"{layer.type_name} is not a sliding-window layer (conv or pooling)", arg="type")
    classes = equivalent_input_sizes(layer)
    mirror = mirror_transpose(layer)
    lead = layer.in_shape[: len(layer.in_shape) - (layer.ndim or 0)]
    rows = []
    for combo in itertools.product(*classes):
        rows.append(InverseRow(tuple(combo), solve(mirror, (*lead, *combo))))
    return InverseAnswer(layer, classes, mirror, tuple(rows))


# --------------------------------------------------------------------------------------------------
# skip connections: an upsampled map that does not match the map it is merged with
# --------------------------------------------------------------------------------------------------


def skip_fix_hint(up_name: str, up_layer: Layer | None, up_shape: Shape, skip_name: str, skip_shape: Shape) -> str:
    """How to make `up_name`'s output match `skip_name`'s spatial size, for a merge error's hint.

    When `up_layer` is a ConvTranspose and an output_padding reaches the skip's size, that is the fix
    (`output_size: skip_name` says the same); otherwise the larger map is cropped (or the smaller padded)
    by the exact amounts.
    """
    rank = min(len(up_shape), len(skip_shape))
    nd = rank - 2 if rank > 2 else 0
    up_sp = tuple(up_shape[len(up_shape) - nd:])
    skip_sp = tuple(skip_shape[len(skip_shape) - nd:])
    what = f"'{up_name}' gives {fmt_shape(up_sp)} but '{skip_name}' gives {fmt_shape(skip_sp)}: "
    transposed = up_layer is not None and is_transposed(up_layer) and nd == (up_layer.ndim or 0)
    if transposed:
        try:
            answer: TransposeAnswer | None = solve(up_layer, skip_sp)  # type: ignore[arg-type]
        except LayerError:
            answer = None
        if answer is not None and answer.ok:
            padding = _list_or_int(answer.output_padding)  # type: ignore[arg-type]
            return what + f"set output_padding={padding} on '{up_name}' (or write output_size: {skip_name} there)"
    diff = [s - u for u, s in zip(up_sp, skip_sp)]
    if all(d >= 0 for d in diff):
        fix = (f"crop '{skip_name}' by {fmt_shape(diff)} to {fmt_shape(up_sp)} (a Crop layer: inputs: "
               f"[{skip_name}, {up_name}]) or pad '{up_name}' by {fmt_shape(diff)}")
    elif all(d <= 0 for d in diff):
        fix = (f"crop '{up_name}' by {fmt_shape([-d for d in diff])} to {fmt_shape(skip_sp)} (a Crop layer: "
               f"inputs: [{up_name}, {skip_name}]) or pad '{skip_name}'")
    else:
        fix = f"crop both to {fmt_shape([min(u, s) for u, s in zip(up_sp, skip_sp)])}"
    if transposed:
        fix += f"; no output_padding of '{up_name}' reaches {fmt_shape(skip_sp)}"
    return what + fix


def merge_mismatch_hint(names: Sequence[str], layers: Sequence[Layer | None], shapes: Sequence[Shape]) -> str | None:
    """A merge's inputs disagree in a spatial size: name both producers and the output_padding or crop that fixes it.

    `layers` are the producing layers (None for the network input). The upsampled side is the one a
    ConvTranspose produced, else the smaller one. None when no two inputs differ in a spatial dim.
    """
    for i in range(len(shapes)):
        for j in range(i + 1, len(shapes)):
            a, b = shapes[i], shapes[j]
            if len(a) != len(b) or len(a) < 3 or tuple(a[2:]) == tuple(b[2:]):
                continue
            up, skip = i, j
            upsampled = [layer is not None and is_transposed(layer) for layer in (layers[i], layers[j])]
            if not upsampled[0] and (upsampled[1] or math.prod(b[2:]) < math.prod(a[2:])):
                up, skip = j, i
            return skip_fix_hint(names[up], layers[up], shapes[up], names[skip], shapes[skip])
    return None


def _list_or_int(values: Sequence[int]) -> Any:
    return values[0] if len(set(values)) == 1 else list(values)
