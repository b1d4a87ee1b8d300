"""Tensor operations and ConvNeXt's pieces: Mul/Sub/Div, Narrow, Permute, Transpose, Reshape, Mean,
LayerNorm2d, Scale (layer scale) and StochasticDepth.

None of these has a torch.nn class; `build()` returns the small modules of
convcalc.torch_backend.modules (LayerNorm2d, Scale and StochasticDepth re-implement torchvision's).

Layouts: Permute, Transpose and Reshape move the spatial axes to other tensor dims. Each receptive-field
axis then records its dim (AxisRF.dim), and the layers after it find their axes by position
(`spatial_index`): after Permute([0, 2, 3, 1]) a LayerNorm or Linear over the last dim normalises the
channels and leaves H and W local, as in ConvNeXt's block; Permute([0, 3, 1, 2]) restores the default.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import RF, Arg, Layer, Shape, axis_dims, fmt_shape, placed, register
from convcalc.layers.merge import Elementwise, broadcast_shape, union_rf
from convcalc.layers.norm import LayerNorm
from convcalc.layers.window import globalise_dims, normalize_dim, spatial_index

if TYPE_CHECKING:  # pragma: no cover
    import torch


# --------------------------------------------------------------------------------------------------
# Elementwise arithmetic: Add's broadcasting, union of fields and counting (merge.Elementwise)
# --------------------------------------------------------------------------------------------------


@register
class Mul(Elementwise):
    type_name = "Mul"
    summary = "elementwise product of 2+ inputs with torch broadcasting (gates, attention maps)"
    flops_rule = "(inputs - 1) multiplications per output element"
    verb = "multiplied"
    op = "mul"


@register
class Sub(Elementwise):
    type_name = "Sub"
    summary = "elementwise difference of 2 inputs, first minus second, with torch broadcasting"
    flops_rule = "1 subtraction per output element"
    max_inputs = 2
    verb = "subtracted"
    op = "sub"


@register
class Div(Elementwise):
    type_name = "Div"
    summary = "elementwise true division of 2 inputs, first by second, with torch broadcasting"
    flops_rule = "1 division per output element"
    max_inputs = 2
    verb = "divided"
    op = "div"


# --------------------------------------------------------------------------------------------------
# Slicing and moving dims
# --------------------------------------------------------------------------------------------------


def _dims_hint(rank: int) -> str:
    return f"the input has {rank} dims: 0 .. {rank - 1}, or -{rank} .. -1 from the end" if rank else \
        "the input is a scalar (0 dims)"


@register
class Narrow(Layer):
    """torch.narrow: `length` entries of dim `dim` from `start` (negative: counted from the end)."""

    type_name = "Narrow"
    family = "tensor"
    aliases = ("Slice",)
    summary = "keep `length` entries of dim `dim` from `start` (torch.narrow; negative start counts from the end)"
    args = (
        Arg("dim", "int", doc="the dim to slice (negative counts from the end)"),
        Arg("start", "int", doc="first index kept (negative counts from the end)"),
        Arg("length", "int", doc="number of entries kept"),
    )

    def _resolved(self) -> tuple[int, int]:
        shape = self.in_shape
        if not shape:
            raise LayerError("narrow() cannot be applied to a 0-dim tensor.",
                             hint="the incoming tensor is a scalar: a reduction before this layer removed every dim",
                             arg="inputs")
        if self.length < 0:
            raise LayerError("narrow(): length must be non-negative.", arg="length")
        dim = normalize_dim(self.dim, len(shape))
        size = shape[dim]
        if not -size <= self.start <= size:
            raise LayerError(f"start out of range (expected to be in range of [{-size}, {size}], but got "
                             f"{self.start})", hint=f"dim {dim} of {fmt_shape(shape)} has {size} entries",
                             arg="start")
        start = self.start + size if self.start < 0 else self.start
        if start + self.length > size:
            raise LayerError(f"start ({start}) + length ({self.length}) exceeds dimension size ({size}).",
                             hint=f"dim {dim} of {fmt_shape(shape)} has {size} entries: at most "
                             f"{size - start} from index {start}", arg="length")
        return dim, start

    def check(self) -> None:
        self._resolved()

    def output_shape(self) -> Shape:
        dim, _ = self._resolved()
        out = list(self.in_shape)
        out[dim] = self.length
        return tuple(out)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        dim, start = self._resolved()
        axes = list(in_rfs[0])
        axis = spatial_index(len(self.in_shape), axes, dim)
        if axis is not None:
            axes[axis] = axes[axis].shifted(start)  # output o is input o + start
        return tuple(axes)

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Narrow as NarrowModule

        return NarrowModule(self.dim, self.start, self.length)


def _permutation_rf(rf: RF, order: Sequence[int], rank: int) -> RF:
    """The field after output dim j takes input dim order[j]: every axis moves with its dim."""
    to = {source: j for j, source in enumerate(order)}
    return placed(rf, [None if d is None else to[d] for d in axis_dims(rf, rank)], rank)


@register
class Permute(Layer):
    type_name = "Permute"
    family = "tensor"
    summary = "reorder the dims: output dim j is input dim dims[j] (torch.permute, torchvision's Permute)"
    args = (Arg("dims", "dims", doc="the new order of all input dims, e.g. [0, 2, 3, 1] for channels-last"),)

    def order(self) -> tuple[int, ...]:
        rank, dims = len(self.in_shape), tuple(self.dims)
        if len(dims) != rank:
            raise LayerError(
                f"permute(sparse_coo): number of dimensions in the tensor input does not match the length of the "
                f"desired ordering of dimensions i.e. input.dim() = {rank} is not equal to len(dims) = {len(dims)}",
                hint=f"dims lists every dim of {fmt_shape(self.in_shape)} once, e.g. "
                f"{[0, *range(2, rank), 1] if rank > 2 else list(reversed(range(rank)))}", arg="dims")
        seen: list[int] = []
        for d in dims:
            wrapped = normalize_dim(d, rank, "dims")
            if wrapped in seen:
                raise LayerError("permute(): duplicate dims are not allowed.",
                                 hint=f"dim {wrapped} appears twice in {list(dims)}", arg="dims")
            seen.append(wrapped)
        return tuple(seen)

    def check(self) -> None:
        self.order()

    def output_shape(self) -> Shape:
        return tuple(self.in_shape[d] for d in self.order())

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return _permutation_rf(in_rfs[0], self.order(), len(self.in_shape))

    def resolved_args(self) -> dict[str, Any]:
        return {"dims": list(self.dims)}

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Permute as PermuteModule

        return PermuteModule(self.dims)


@register
class Transpose(Layer):
    type_name = "Transpose"
    family = "tensor"
    summary = "swap two dims (torch.transpose)"
    args = (
        Arg("dim0", "int", doc="the first dim (negative counts from the end)"),
        Arg("dim1", "int", doc="the second dim"),
    )

    def order(self) -> list[int]:
        rank = len(self.in_shape)
        a, b = normalize_dim(self.dim0, rank, "dim0"), normalize_dim(self.dim1, rank, "dim1")
        order = list(range(rank))
        if rank:
            order[a], order[b] = order[b], order[a]
        return order

    def check(self) -> None:
        self.order()

    def output_shape(self) -> Shape:
        return tuple(self.in_shape[d] for d in self.order())

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return _permutation_rf(in_rfs[0], self.order(), len(self.in_shape))

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Transpose as TransposeModule

        return TransposeModule(self.dim0, self.dim1)


def _kept_dims(in_shape: Shape, out_shape: Shape) -> dict[int, int]:
    """The input dims a reshape keeps whole, each with the output dim it becomes.

    Row-major order is preserved: equal leading dims and equal trailing dims stay where they are, and in
    between, a dim of size > 1 is kept where it alone makes up the same block of the flat index on both
    sides (the boundaries where the running products of sizes agree); other dims are merged or split.
    """
    kept: dict[int, int] = {}
    n_in, n_out = len(in_shape), len(out_shape)
    head = 0
    while head < min(n_in, n_out) and in_shape[head] == out_shape[head]:
        kept[head] = head
        head += 1
    tail = 0
    while tail < min(n_in, n_out) - head and in_shape[n_in - 1 - tail] == out_shape[n_out - 1 - tail]:
        kept[n_in - 1 - tail] = n_out - 1 - tail
        tail += 1
    a = [(d, in_shape[d]) for d in range(head, n_in - tail) if in_shape[d] != 1]
    b = [(d, out_shape[d]) for d in range(head, n_out - tail) if out_shape[d] != 1]
    if 0 in in_shape:
        return kept  # an empty tensor: no positions to follow
    i = j = 0
    # all sizes here are > 1 and both sides hold the same number of elements: each block closes
    while i < len(a) and j < len(b):
        first_i, first_j = i, j
        size_a, size_b = a[i][1], b[j][1]
        i, j = i + 1, j + 1
        while size_a != size_b:
            if size_a < size_b:
                size_a, i = size_a * a[i][1], i + 1
            else:
                size_b, j = size_b * b[j][1], j + 1
        if i - first_i == 1 and j - first_j == 1:
            kept[a[first_i][0]] = b[first_j][0]
    return kept


@register
class Reshape(Layer):
    """torch.reshape to `shape`, which includes the batch dim as in torch (one entry may be -1).

    View is an alias: convcalc does not track strides, so it builds a reshape, which is a view wherever
    torch's .view() succeeds (after a Permute, .view() can fail where reshape copies).
    """

    type_name = "Reshape"
    family = "tensor"
    aliases = ("View",)
    summary = "reshape to `shape`, batch dim included, one entry may be -1 (torch.reshape; View is an alias)"
    args = (Arg("shape", "dims", doc="the new shape including the batch dim, e.g. [-1, 4, 2, 7, 7]"),)

    def target(self) -> Shape:
        shape = tuple(self.shape)
        numel = math.prod(self.in_shape)
        size, infer = 1, None
        for index, s in enumerate(shape):
            if s == -1:
                if infer is not None:
                    raise LayerError("only one dimension can be inferred", hint=f"shape {list(shape)} has several -1",
                                     arg="shape")
                infer = index
            elif s >= 0:
                size *= s
            else:
                raise LayerError(f"invalid shape dimension {s} at index {index} of shape {list(shape)}",
                                 hint="sizes are >= 0, or -1 for the one inferred from the others", arg="shape")
        if numel == size or (infer is not None and size > 0 and numel % size == 0):
            if infer is None:
                return shape
            if size == 0:
                raise LayerError(
                    f"cannot reshape tensor of 0 elements into shape {list(shape)} because the unspecified "
                    "dimension size -1 can be any value and is ambiguous", arg="shape")
            return shape[:infer] + (numel // size,) + shape[infer + 1:]
        raise LayerError(f"shape '{list(shape)}' is invalid for input of size {numel}",
                         hint=f"the incoming {fmt_shape(self.in_shape)} holds {numel} elements; the shape "
                         "includes the batch dim (use -1 for one size to be inferred)", arg="shape")

    def check(self) -> None:
        self.target()

    def output_shape(self) -> Shape:
        return self.target()

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        # an axis whose dim is kept whole moves with it; one whose dim is merged with others or split
        # into several no longer has a dim of its own: every output may sit anywhere along it (global)
        rf, shape, out = in_rfs[0], self.in_shape, self.out_shape
        kept = _kept_dims(shape, out)
        axes, dims = list(rf), axis_dims(rf, len(shape))
        moved: list[int | None] = []
        for i, d in enumerate(dims):
            if d is not None and d not in kept and not axes[i].is_global:
                axes[i] = axes[i].globalised(shape[d])
            moved.append(kept.get(d) if d is not None else None)
        return placed(axes, moved, len(out))

    def resolved_args(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Reshape as ReshapeModule

        return ReshapeModule(self.shape)


# --------------------------------------------------------------------------------------------------
# Reduction
# --------------------------------------------------------------------------------------------------


@register
class Mean(Layer):
    type_name = "Mean"
    family = "tensor"
    summary = "average over `dim` (torch.mean; an empty list or null: every dim), keeping it as size 1 with keepdim"
    flops_rule = "1 addition per input element + 1 division per output element (AdaptiveAvgPool's convention)"
    args = (
        Arg("dim", "dims", nullable=True, doc="the dim or dims to average over (empty list or null: all)"),
        Arg("keepdim", "bool", False, doc="keep each reduced dim with size 1"),
    )

    def reduced(self) -> tuple[int, ...]:
        rank = len(self.in_shape)
        if not self.dim:
            return tuple(range(rank))
        wrapped = [normalize_dim(d, rank) for d in self.dim]
        for d in wrapped:
            if wrapped.count(d) > 1:
                raise LayerError(f"dim {d} appears multiple times in the list of dims",
                                 hint=f"{list(self.dim)} names dim {d} twice", arg="dim")
        return tuple(sorted(set(wrapped)))

    def check(self) -> None:
        self.reduced()

    def output_shape(self) -> Shape:
        reduced = self.reduced()
        if self.keepdim:
            return tuple(1 if d in reduced else s for d, s in enumerate(self.in_shape))
        return tuple(s for d, s in enumerate(self.in_shape) if d not in reduced)

    def flops(self) -> int:
        return math.prod(self.in_shape) + self.numel()

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        reduced = self.reduced()
        rf = globalise_dims(in_rfs[0], self.in_shape, reduced)
        if self.keepdim:
            return rf
        return placed(rf, [None if d is None or d in reduced else d - sum(r < d for r in reduced)
                           for d in axis_dims(rf, len(self.in_shape))], len(self.out_shape))

    def resolved_args(self) -> dict[str, Any]:
        return {"dim": None if self.dim is None else list(self.dim), "keepdim": self.keepdim}

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Mean as MeanModule

        return MeanModule(self.reduced() if self.dim is None else self.dim, keepdim=self.keepdim)


# --------------------------------------------------------------------------------------------------
# ConvNeXt: LayerNorm2d, layer scale, stochastic depth
# --------------------------------------------------------------------------------------------------


@register
class LayerNorm2d(LayerNorm):
    """torchvision's ConvNeXt LayerNorm2d: LayerNorm over the channels of [N, C, H, W] at each position.

    Built as torchvision builds it (an nn.LayerNorm whose forward permutes to channels-last, calls
    F.layer_norm and permutes back), so it takes 4D input only, its parameters are `weight` and `bias` of
    shape [C], and fvcore and FlopCounterMode count it as they count LayerNorm: LayerNorm's rules apply.
    """

    type_name = "LayerNorm2d"
    summary = "LayerNorm over the channels of [N, C, H, W] (torchvision's ConvNeXt LayerNorm2d)"
    args = (
        Arg("num_channels", "int", inferred=True, doc="channels of the incoming [N, C, H, W] tensor"),
        Arg("eps", "float", 1e-5, doc="added to the variance for stability (ConvNeXt: 1e-6)"),
        Arg("elementwise_affine", "bool", True, doc="learnable per-channel scale (and shift)"),
        Arg("bias", "bool", True, doc="learnable shift (with elementwise_affine)"),
    )

    @property
    def normalized_shape(self) -> tuple[int]:
        return (self.num_channels,)

    def check(self) -> None:
        given, shape = self.values.get("num_channels"), self.in_shape
        if given is not None and given < 0 and self.elementwise_affine:
            raise LayerError(f"Trying to create tensor with negative dimension {given}: [{given}]",
                             arg="num_channels")
        if len(shape) != 4:
            raise LayerError(
                "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the "
                f"desired ordering of dimensions i.e. input.dim() = {len(shape)} is not equal to len(dims) = 4",
                hint=f"LayerNorm2d takes [N, C, H, W] (it permutes to [N, H, W, C]); got {fmt_shape(shape)}",
                arg="inputs")
        channels = shape[1]
        if given is not None and given != channels:
            raise LayerError(
                f"Given normalized_shape=[{given}], expected input with shape [*, {given}], but got input of "
                f"size{[shape[0], shape[2], shape[3], channels]}",
                hint=f"drop 'num_channels' (convcalc infers it): the incoming {fmt_shape(shape)} has {channels} "
                "channels", arg="num_channels")
        self.values["num_channels"] = channels

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return globalise_dims(in_rfs[0], self.in_shape, [1])

    def resolved_args(self) -> dict[str, Any]:
        return dict(self.values)

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import LayerNorm2d as LayerNorm2dModule

        return LayerNorm2dModule(self.num_channels, eps=self.eps, elementwise_affine=self.elementwise_affine,
                                 bias=self.bias)


@register
class Scale(Layer):
    """A learnable per-channel factor, ConvNeXt's layer scale: `weight * x`, weight [C, 1, ...].

    torchvision keeps this parameter directly on the block (`features.1.0.layer_scale`), so the built
    network names it by the layer's own name in its state_dict (see `own_state_key`). Like torch, a
    `num_features` of 1 broadcasts (one scalar for every channel).
    """

    type_name = "Scale"
    family = "linear"
    summary = "learnable per-channel multiply, weight [C, 1, ...] * x (ConvNeXt's layer scale)"
    flops_rule = "1 multiplication per output element"
    own_state_key = "weight"
    args = (
        Arg("num_features", "int", inferred=True, doc="channels of the incoming tensor (dim 1)"),
        Arg("init_value", "float", 1.0, doc="initial value of every factor (torchvision's ConvNeXt: 1e-6)"),
    )

    def weight_shape(self) -> Shape:
        return (self.num_features,) + (1,) * (len(self.in_shape) - 2)

    def check(self) -> None:
        shape = self.in_shape
        if len(shape) < 2:
            raise LayerError(f"Scale multiplies the channels (dim 1) of [N, C, ...]: got {fmt_shape(shape)}",
                             hint="a layer before this one removed the channel dim", arg="inputs")
        given = self.values.get("num_features")
        self.values["num_features"] = shape[1] if given is None else given
        if self.num_features < 0:
            raise LayerError(f"Trying to create tensor with negative dimension {self.num_features}: "
                             f"{list(self.weight_shape())}", arg="num_features")
        self.output_shape()

    def output_shape(self) -> Shape:
        weight = self.weight_shape()
        try:
            return broadcast_shape((weight, self.in_shape), (f"the weight {fmt_shape(weight)}",
                                   f"the input {fmt_shape(self.in_shape)}"), "multiplied")
        except LayerError as exc:
            raise LayerError(exc.message, hint=f"num_features must be {self.in_shape[1]} (the channels of "
                             f"{fmt_shape(self.in_shape)}) or 1; drop it and convcalc infers it",
                             arg="num_features") from None

    def params(self) -> int:
        return self.num_features

    def flops(self) -> int:
        return self.numel()

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return union_rf(in_rfs, self.in_shapes, self.out_shape)

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import Scale as ScaleModule

        return ScaleModule(self.weight_shape(), self.init_value)


@register
class StochasticDepth(Layer):
    """torchvision.ops.StochasticDepth: drops whole residual branches in training; the identity in eval.

    convcalc analyses inference, so it counts nothing: in training 'row' mode multiplies each sample by
    0 or 1/(1-p), 'batch' mode the whole batch.
    """

    type_name = "StochasticDepth"
    family = "dropout"
    summary = "drop whole samples ('row') or the batch ('batch') in training; identity at inference (torchvision)"
    flops_rule = "0: the identity at inference (in training one multiply per element)"
    args = (
        Arg("p", "float", doc="probability of dropping, 0..1"),
        Arg("mode", "str", "row", choices=("row", "batch"), doc="'row': per sample; 'batch': all at once"),
    )

    def check(self) -> None:
        if self.p < 0.0 or self.p > 1.0:  # torchvision's test, which lets NaN through
            raise LayerError(f"drop probability has to be between 0 and 1, but got {self.p}", arg="p")

    def build(self) -> "torch.nn.Module":
        from convcalc.torch_backend.modules import StochasticDepth as StochasticDepthModule

        return StochasticDepthModule(self.p, self.mode)
