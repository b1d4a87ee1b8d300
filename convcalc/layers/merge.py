"""Graph layers with several inputs: Add (residuals), Concat (dense/U-Net joins) and Crop (U-Net's crop).

These have no torch.nn class; `build()` returns the small modules of convcalc.torch_backend.modules,
whose forward takes the inputs positionally. Receptive field: the union of the inputs' fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import RF, Arg, AxisRF, Layer, Shape, axis_dims, fmt_shape, register
from convcalc.layers.window import globalise_dims, normalize_dim, spatial_index

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _input_label(layer: Layer, index: int) -> str:
    names = getattr(layer, "in_names", None) or ()
    if index < len(names):
        return f"'{names[index]}' {fmt_shape(layer.in_shapes[index])}"
    return f"input {index + 1} {fmt_shape(layer.in_shapes[index])}"


def union_rf(in_rfs: Sequence[RF], in_shapes: Sequence[Shape], out_shape: Shape) -> RF:
    """The union of the inputs' fields, axis by axis.

    An input that reaches an output dim by broadcasting (its size 1 against a larger output), or that has
    no such dim, is read at the same place by every output: along that axis it counts as global. Inputs
    that hold one axis on different dims (one of them transposed) are read at unrelated positions along
    it: that axis becomes global, and inexact.
    """
    n_axes = len(in_rfs[0])
    rank = len(out_shape)
    parts: list[list[tuple[AxisRF, int | None]]] = [[] for _ in range(n_axes)]
    for rf, shape in zip(in_rfs, in_shapes):
        if len(rf) != n_axes:
            continue
        for axis, (field, dim) in enumerate(zip(rf, axis_dims(rf, len(shape)))):
            out_dim = None if dim is None else dim + rank - len(shape)
            if out_dim is None or (shape[dim] == 1 and out_shape[out_dim] != 1):  # type: ignore[index]
                field = field.globalised(1)
            parts[axis].append((field, out_dim))
    merged: list[AxisRF] = []
    for fields in parts:  # every axis has the first input's field at least
        if len({dim for field, dim in fields if not field.is_global}) > 1:
            fields = [(field.globalised(out_shape[dim] if dim is not None else 1)._replace(exact=False), dim)
                      for field, dim in fields]
        total = fields[0][0]
        for field, _ in fields[1:]:
            total = total.union(field)
        merged.append(total)
    # An output that one input's fields leave empty along one axis (a transposed conv position no tap
    # reaches) reads nothing of that input along any axis; fields kept per axis cannot say so, so with
    # several axes such a union is only an approximation.
    if n_axes > 1 and any(None in (a.pattern or ()) for rf in in_rfs for a in rf):
        merged = [a._replace(exact=False) for a in merged]
    return tuple(merged)


def broadcast_shape(shapes: Sequence[Shape], labels: Sequence[str], verb: str) -> Shape:
    """torch's broadcasting of `shapes`, with its error (naming both culprits by `labels`) where it fails."""
    rank = max(len(s) for s in shapes)
    out = [1] * rank
    owner = [0] * rank  # which input set each output dim, for the error message
    for index, shape in enumerate(shapes):
        padded = (1,) * (rank - len(shape)) + tuple(shape)
        for dim, size in enumerate(padded):
            if size == out[dim] or size == 1:
                continue
            if out[dim] == 1:
                out[dim], owner[dim] = size, index
                continue
            first = owner[dim]
            raise LayerError(
                f"The size of tensor a ({out[dim]}) must match the size of tensor b ({size}) at non-singleton "
                f"dimension {dim}: {labels[first]} and {labels[index]} cannot be {verb}",
                hint=_merge_hint(shapes[first], shape, dim), arg="inputs")
    return tuple(out)


class Elementwise(Layer):
    """An elementwise arithmetic merge of its inputs, with torch broadcasting: one op per input after
    the first, per output element (torch has no module for these; fvcore and FlopCounterMode count
    none of aten::add/sub/mul/div)."""

    family = "merge"
    min_inputs = 2
    max_inputs = None
    flops_rule = "(inputs - 1) operations per output element"
    verb: ClassVar[str] = "combined"  # for the broadcasting error: "... cannot be added"
    op: ClassVar[str]  # the torch function folded over the inputs: add, mul, sub, div

    def output_shape(self) -> Shape:
        labels = [_input_label(self, i) for i in range(len(self.in_shapes))]
        return broadcast_shape(self.in_shapes, labels, self.verb)

    def check(self) -> None:
        self.output_shape()

    def flops(self) -> int:
        return (len(self.in_shapes) - 1) * self.numel()

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return union_rf(in_rfs, self.in_shapes, self.out_shape)

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Elementwise as ElementwiseModule

        return ElementwiseModule(self.op)


@register
class Add(Elementwise):
    type_name = "Add"
    summary = "elementwise sum of 2+ inputs with torch broadcasting (residual connections)"
    flops_rule = "(inputs - 1) additions per output element"
    verb = "added"
    op = "add"

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Add as AddModule

        return AddModule()


def _merge_hint(a: Shape, b: Shape, dim: int) -> str:
    rank = max(len(a), len(b))
    if dim >= 2 and len(a) == len(b) == rank:
        return ("the spatial sizes differ: add a Crop (inputs: [bigger, smaller]) to the larger branch, pad the "
                "smaller one, or - when one branch comes from a ConvTranspose - set its output_padding "
                "(or output_size) so both sides agree")
    if dim == 1 and len(a) == len(b):
        return "the channel counts differ: project one branch with a 1x1 convolution (a downsample shortcut)"
    return "the shapes must be equal, or 1 where they differ (broadcasting)"


@register
class Concat(Layer):
    type_name = "Concat"
    family = "merge"
    aliases = ("Cat",)
    summary = "concatenation of 2+ inputs along `dim` (torch.cat)"
    min_inputs = 2
    max_inputs = None
    args = (Arg("dim", "int", 1, doc="the dim to join along (negative counts from the end)"),)

    def _axis(self) -> int:
        ranks = {len(s) for s in self.in_shapes}
        if len(ranks) > 1:
            first = self.in_shapes[0]
            other = next(i for i, s in enumerate(self.in_shapes) if len(s) != len(first))
            raise LayerError(
                f"Tensors must have same number of dimensions: got {len(first)} and {len(self.in_shapes[other])} "
                f"({_input_label(self, 0)} and {_input_label(self, other)})", arg="inputs")
        return normalize_dim(self.dim, len(self.in_shapes[0]))

    def check(self) -> None:
        axis = self._axis()
        first = self.in_shapes[0]
        for index, shape in enumerate(self.in_shapes[1:], start=1):
            for dim, (a, b) in enumerate(zip(first, shape)):
                if dim != axis and a != b:
                    raise LayerError(
                        f"Sizes of tensors must match except in dimension {axis}: {_input_label(self, 0)} and "
                        f"{_input_label(self, index)} differ in dim {dim} ({a} vs {b})",
                        hint=_merge_hint(first, shape, dim), arg="inputs")

    def output_shape(self) -> Shape:
        axis = self._axis()
        out = list(self.in_shapes[0])
        out[axis] = sum(s[axis] for s in self.in_shapes)
        return tuple(out)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        axis = self._axis()
        # joined along a spatial dim, an output position may come from any input: that axis is global
        rfs = [globalise_dims(rf, shape, [axis]) for rf, shape in zip(in_rfs, self.in_shapes)]
        return union_rf(rfs, self.in_shapes, self.out_shape)

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Concat as ConcatModule

        return ConcatModule(self.dim)


@register
class Crop(Layer):
    """Centre crop of the spatial dims (2 onwards): to the second input's spatial size, or to `size`.

    Offset per dim = (in - target) // 2, U-Net's crop-and-concat: crop the encoder's map to the decoder's.
    """

    type_name = "Crop"
    family = "merge"
    aliases = ("CenterCrop",)
    summary = "centre-crop the first input's spatial dims to the second input's, or to `size`"
    min_inputs = 1
    max_inputs = 2
    args = (Arg("size", "shape", None, nullable=True, doc="target spatial size (with a single input)"),)

    def _target(self) -> tuple[int, ...]:
        shape = self.in_shape
        spatial = len(shape) - 2
        if len(self.in_shapes) == 2:
            if self.size is not None:
                raise LayerError("Crop takes either a second input or `size`, not both", arg="size")
            other = self.in_shapes[1]
            if len(other) != len(shape):
                raise LayerError(
                    f"Crop needs inputs of the same rank: {_input_label(self, 0)} and {_input_label(self, 1)}",
                    arg="inputs")
            return tuple(other[2:])
        if self.size is None:
            raise LayerError("Crop with one input needs `size` (or give a second input to crop to)",
                             hint="e.g. {type: Crop, inputs: [enc2, up2]} or {type: Crop, size: [56, 56]}", arg="size")
        size = tuple(self.size)
        if len(size) == 1:
            return size * spatial
        if len(size) != spatial:
            raise LayerError(f"size {list(size)} must have one entry per spatial dim ({spatial}) of "
                             f"{fmt_shape(shape)}", arg="size")
        return size

    def check(self) -> None:
        target = self._target()
        shape = self.in_shape
        if len(shape) < 3:
            raise LayerError(f"Crop needs spatial dims, got {fmt_shape(shape)}", arg="inputs")
        for i, (n, t) in enumerate(zip(shape[2:], target)):
            if t < 0 or t > n:
                raise LayerError(
                    f"cannot centre-crop spatial dim {i} from {n} to {t}: the target is "
                    f"{'negative' if t < 0 else 'larger than the input'}",
                    hint="Crop only shrinks: list the larger map first (inputs: [bigger, smaller]), or pad instead",
                    arg="inputs" if len(self.in_shapes) == 2 else "size")

    def offsets(self) -> tuple[int, ...]:
        return tuple((n - t) // 2 for n, t in zip(self.in_shape[2:], self._target()))

    def output_shape(self) -> Shape:
        return (*self.in_shape[:2], *self._target())

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        axes = list(in_rfs[0])
        rank = len(self.in_shape)
        for i, offset in enumerate(self.offsets()):
            axis = spatial_index(rank, axes, i + 2)
            if axis is not None:
                axes[axis] = axes[axis].shifted(offset)  # output o is input o + offset
        return tuple(axes)

    def resolved_args(self) -> dict[str, Any]:
        values = dict(self.values)
        values["size"] = list(self._target())
        return values

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Crop as CropModule

        return CropModule(None if len(self.in_shapes) == 2 else self._target())

