"""Resizing: Upsample (and UpsamplingNearest2d / UpsamplingBilinear2d) and the padding layers.

Upsample follows F.interpolate: exactly one of size and scale_factor; with a scale factor each output
dim is trunc(in * scale) computed in double precision (recompute_scale_factor changes the values
torch interpolates, not the size); the mode must suit the input rank (linear: 3D, bilinear and
bicubic: 4D, trilinear: 5D; nearest, nearest-exact and area: any of them); align_corners only with
the interpolating modes; every output dim must be > 0 (area, an adaptive average pool, allows 0).

Padding layers follow F.pad: `padding` is an int or (left, right, top, bottom, front, back) - the
last dim first. Negative padding crops. Zero/constant padding needs every dim to stay >= 0 after
the crops; reflection needs each pad < the input size; replication and circular have their own limits.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import RF, Arg, AxisRF, Layer, Shape, register
from convcalc.layers.pool import adaptive_rf, adaptive_windows
from convcalc.layers.window import dims_str, globalise_all, spatial_index

if TYPE_CHECKING:  # pragma: no cover
    import torch

_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact", "area")
_MODE_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
# convcalc's FLOPs per output element: the taps read and the weights applied (2 per tap - 1)
_TAPS = {"linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}


class _UpsampleBase(Layer):
    family = "resize"
    trailing_spatial = True
    flops_rule = ("nearest / nearest-exact: 0; linear family: 2 * taps - 1 per output element (taps: linear 2, "
                  "bilinear 4, bicubic 16, trilinear 8); area: its window additions + 1 division per output")
    fixed_mode: ClassVar[str | None] = None
    fixed_align: ClassVar[bool | None] = None

    @property
    def mode_(self) -> str:
        return self.fixed_mode or self.values.get("mode") or "nearest"

    @property
    def align(self) -> bool | None:
        return self.fixed_align if self.fixed_mode else self.values.get("align_corners")

    @property
    def scales(self) -> tuple[float, ...] | None:
        scale = self.values.get("scale_factor")
        if scale is None:
            return None
        spatial = len(self.in_shape) - 2
        if isinstance(scale, tuple):
            return scale
        if not scale:  # nn.Upsample stores a zero scale factor as None
            return None
        return (scale,) * max(spatial, 0)

    def check(self) -> None:
        mode, rank = self.mode_, len(self.in_shape)
        size, scale = self.values.get("size"), self.values.get("scale_factor")
        if scale is not None and not isinstance(scale, tuple) and not scale:
            scale = None
        if mode in ("nearest", "area", "nearest-exact") and self.align is not None:
            raise LayerError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear", arg="align_corners")
        spatial = rank - 2
        if size is not None and scale is not None:
            raise LayerError("only one of size or scale_factor should be defined", arg="scale_factor")
        if size is None and scale is None:
            raise LayerError("either size or scale_factor should be defined",
                             hint="e.g. scale_factor: 2 (a scale factor of 0 counts as not given)", arg="size")
        if isinstance(size, tuple) and len(size) != spatial:
            raise LayerError(
                f"Input and output must have the same number of spatial dimensions, but got input with spatial "
                f"dimensions of {list(self.in_shape[2:])} and output size of {list(size)}", arg="size")
        if isinstance(scale, tuple) and len(scale) != spatial:
            raise LayerError(
                f"Input and scale_factor must have the same number of spatial dimensions, but got input with "
                f"spatial dimensions of {list(self.in_shape[2:])} and scale_factor of shape {list(scale)}",
                arg="scale_factor")
        if self.values.get("recompute_scale_factor") and size is not None:
            raise LayerError("recompute_scale_factor is not meaningful with an explicit size.",
                             arg="recompute_scale_factor")
        wanted = _MODE_RANK.get(mode)
        if rank not in (3, 4, 5) or (wanted is not None and rank != wanted):
            if wanted is not None and rank in (3, 4, 5):
                message = f"Got {rank}D input, but {mode} mode needs {wanted}D input"
            else:
                message = (f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {rank}D) for the modes: "
                           "nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact")
            raise LayerError(message, hint=self._rank_hint(rank), arg="mode" if wanted else "inputs")
        outs = self._target()
        if mode == "area":
            if any(o < 0 for o in outs):
                raise LayerError(f"adaptive_avg_pool: elements of output_size must be greater than or equal to 0 "
                                 f"but received {list(outs)}", arg="scale_factor" if size is None else "size")
        elif any(o <= 0 for o in outs):
            raise LayerError(
                f"Input and output sizes should be greater than 0, but got input ({dims_str(self.in_shape[2:])}) "
                f"and output ({dims_str(outs)})", arg="scale_factor" if size is None else "size")

    def _rank_hint(self, rank: int) -> str:
        spatial = rank - 2
        fitting = {1: "linear", 2: "bilinear or bicubic", 3: "trilinear"}.get(spatial)
        return (f"this input has {spatial} spatial dims: use mode {fitting} or nearest" if fitting
                else "Upsample works on [N, C, L], [N, C, H, W] or [N, C, D, H, W] tensors")

    @classmethod
    def coerce_args(cls, raw_args: Mapping[str, Any]) -> dict[str, Any]:
        values = super().coerce_args(raw_args)
        if isinstance(values.get("size"), tuple) and not isinstance(raw_args.get("size"), (list, tuple)):
            values["size"] = values["size"][0]  # an int applies to every spatial dim; a list must match them
        return values

    def _target(self) -> tuple[int, ...]:
        spatial = self.in_shape[2:]
        size = self.values.get("size")
        if size is not None:
            return (size,) * len(spatial) if isinstance(size, int) else tuple(size)
        scales = self.scales or ()
        # ATen: static_cast<int64_t>(double(in) * scale), i.e. truncation of the double product
        return tuple(int(float(n) * s) for n, s in zip(spatial, scales))

    def output_shape(self) -> Shape:
        return (*self.in_shape[:2], *self._target())

    def flops(self) -> int:
        mode = self.mode_
        if mode in _TAPS:
            return (2 * _TAPS[mode] - 1) * self.numel()
        if mode == "area":
            per_axis = [sum(adaptive_windows(n, o)) for n, o in zip(self.in_shape[2:], self._target())]
            return math.prod(self.in_shape[:2]) * math.prod(per_axis) + self.numel()
        return 0

    def fvcore_flops(self) -> int:
        # fvcore's handles: upsample_nearest2d (1 per output), upsample_bilinear2d (4 per output) and
        # adaptive_avg_pool2d (area mode on 4D: 1 per input); every other interpolation counts 0
        if len(self.in_shape) != 4:
            return 0
        return {"nearest": self.numel(), "bilinear": 4 * self.numel(),
                "area": math.prod(self.in_shape)}.get(self.mode_, 0)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        """Jump scales by in/out. Nearest modes read one input per output: exact for an integer upscale
        (fields repeating with the scale), one linear field (an approximation) for other ratios. The
        interpolating modes are an approximation: the taps around output 0's source point (2 per dim,
        4 for bicubic) widen the field."""
        axes: list[AxisRF] = []
        mode = self.mode_
        for axis, n, o in zip(in_rfs[0], self.in_shape[2:], self._target()):
            if axis.jump is None or o <= 0:
                axes.append(axis)
            elif mode == "area":  # an adaptive average pool
                axes.append(adaptive_rf(axis, n, o))
            elif mode in _INTERPOLATING:
                taps = 4 if mode == "bicubic" else 2
                if self.align:
                    ratio, source = (Fraction(n - 1, o - 1) if o > 1 else Fraction(0)), Fraction(0)
                else:  # half-pixel centres; the linear kernels clamp a negative source index to 0
                    ratio = Fraction(n, o)
                    source = ratio / 2 - Fraction(1, 2)
                    if taps == 2:
                        source = max(source, Fraction(0))
                centre = math.floor(source) + Fraction(1, 2)  # taps floor(s) - taps/2 + 1 .. floor(s) + taps/2
                axes.append(AxisRF(size=axis.size + (taps - 1) * axis.jump, jump=axis.jump * Fraction(n, o),
                                   start=axis.start + centre * axis.jump, exact=False))
            elif o % n == 0:
                # an integer scale s: output i reads input i // s in both nearest modes (nearest-exact's
                # floor((i + 1/2) / s) is the same), a transposed window with kernel = stride = s
                axes.append(axis.transposed_window(o // n, o // n, 0))
            else:
                ratio = Fraction(n, o)
                first = math.floor(ratio / 2) if mode == "nearest-exact" else 0  # source index of output 0
                axes.append(AxisRF(size=axis.size, jump=axis.jump * ratio, start=axis.start + first * axis.jump,
                                   exact=False))
        return tuple(axes)

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        size = self.values.get("size")
        scale = self.values.get("scale_factor")
        if self.fixed_mode:
            return getattr(nn, self.type_name)(size=size, scale_factor=scale)
        return nn.Upsample(size=size, scale_factor=scale, mode=self.mode_, align_corners=self.align,
                           recompute_scale_factor=self.values.get("recompute_scale_factor"))


_SIZE = Arg("size", "shape", None, nullable=True, doc="output size, an int or one per spatial dim")
_SCALE = Arg("scale_factor", "floats", None, nullable=True, doc="multiplier, a number or one per spatial dim")


@register
class Upsample(_UpsampleBase):
    type_name = "Upsample"
    summary = "resize by a size or a scale factor (torch.nn.Upsample / F.interpolate)"
    args = (
        _SIZE, _SCALE,
        Arg("mode", "str", "nearest", choices=_MODES, doc="interpolation algorithm"),
        Arg("align_corners", "bool", None, nullable=True, doc="interpolating modes only"),
        Arg("recompute_scale_factor", "bool", None, nullable=True, doc="recompute the scale from the output size"),
    )


@register
class UpsamplingNearest2d(_UpsampleBase):
    type_name = "UpsamplingNearest2d"
    summary = "nearest-neighbour resize (torch.nn.UpsamplingNearest2d)"
    fixed_mode = "nearest"
    args = (_SIZE, _SCALE)


@register
class UpsamplingBilinear2d(_UpsampleBase):
    type_name = "UpsamplingBilinear2d"
    summary = "bilinear resize with align_corners=True (torch.nn.UpsamplingBilinear2d)"
    fixed_mode = "bilinear"
    fixed_align = True
    args = (_SIZE, _SCALE)


# --------------------------------------------------------------------------------------------------
# Padding
# --------------------------------------------------------------------------------------------------


class _PadNd(Layer):
    family = "pad"
    pad_mode: ClassVar[str] = "constant"

    @classmethod
    def coerce_args(cls, raw_args: Mapping[str, Any]) -> dict[str, Any]:
        values = super().coerce_args(raw_args)
        if not isinstance(raw_args.get("padding"), (list, tuple)):
            # an int pads both sides of every dim of the class; a list is F.pad's own list, whatever its length
            values["padding"] = values["padding"] * (2 * (cls.ndim or 1))
        return values

    @property
    def pads(self) -> tuple[int, ...]:
        """(left, right) per padded dim, last dim first, as F.pad takes them."""
        return tuple(self.padding)

    def resolved_args(self) -> dict[str, Any]:
        values = dict(self.values)
        values["padding"] = list(self.pads)
        return values

    def padded_dims(self) -> list[tuple[int, int, int]]:
        """(tensor dim, left, right) for every padded dim."""
        pads, rank = self.pads, len(self.in_shape)
        return [(rank - 1 - i, pads[2 * i], pads[2 * i + 1]) for i in range(len(pads) // 2)]

    def check(self) -> None:
        pads, rank = self.pads, len(self.in_shape)
        if len(pads) % 2:
            raise LayerError(f"Padding length must be divisible by 2, got {len(pads)} values", arg="padding")
        if len(pads) // 2 > rank:
            raise LayerError(
                f"Padding length should be less than or equal to two times the input dimension but got padding "
                f"length {len(pads)} and input of dimension {rank}", arg="padding")
        self.check_mode()

    def check_mode(self) -> None:
        shape = self.in_shape
        for dim, left, right in self.padded_dims():
            if shape[dim] + min(left, 0) + min(right, 0) < 0:
                raise LayerError(
                    f"negative padding ({left}, {right}) crops more than the {shape[dim]} elements of dim {dim}",
                    hint="narrow(): length must be non-negative", arg="padding")

    def output_shape(self) -> Shape:
        shape = list(self.in_shape)
        for dim, left, right in self.padded_dims():
            shape[dim] += left + right
        return tuple(shape)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        # output index 0 sits `left` positions before input index 0 (approximate for reflect/replicate/
        # circular, whose border values come from elsewhere in the input)
        axes = list(in_rfs[0])
        rank = len(self.in_shape)
        for dim, left, _ in self.padded_dims():
            i = spatial_index(rank, axes, dim)
            if i is not None:
                axes[i] = axes[i].shifted(-left)
        return tuple(axes)

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        padding = tuple(self.pads)
        if "value" in self.values:
            return getattr(nn, self.type_name)(padding, self.value)
        return getattr(nn, self.type_name)(padding)


class _ZeroPadNd(_PadNd):
    summary = "zero padding (negative values crop)"


class _ConstantPadNd(_PadNd):
    summary = "constant padding (negative values crop)"


class _ShapedPadNd(_PadNd):
    """Reflection / replication / circular padding: F.pad dispatches on the number of padded dims."""

    def _check_rank(self) -> int:
        k, rank = len(self.pads) // 2, len(self.in_shape)
        if k not in (1, 2, 3) or rank not in (k + 1, k + 2):
            raise LayerError(f"Padding size {2 * k} is not supported for {rank}D input tensor",
                             hint=f"{self.type_name} pads {k} trailing dims of a {k + 1}D or {k + 2}D tensor",
                             arg="padding")
        return k

    def _check_nonempty_input(self) -> None:
        """Reflection and replication padding (ATen) first check the rank and refuse an empty input."""
        self._check_rank()
        shape = self.in_shape
        batched = len(shape) == len(self.pads) // 2 + 2
        if 0 in shape[int(batched):]:
            raise LayerError(f"non-empty input expected, got {list(shape)}", arg="inputs")

    def _check_output_size(self) -> None:
        outs = [(self.in_shape[d], self.in_shape[d] + left + right) for d, left, right in self.padded_dims()]
        if any(o < 0 for _, o in outs) or all(o < 1 for _, o in outs):  # ATen: some dim must stay >= 1
            raise LayerError(
                f"input ({', '.join(str(n) for n, _ in outs)}) is too small. Calculated output "
                f"({', '.join(str(o) for _, o in outs)})",
                hint="negative padding crops: keep every padded dim >= 0 and one of them >= 1", arg="padding")


class _ReflectionPadNd(_ShapedPadNd):
    pad_mode = "reflect"

    def check_mode(self) -> None:
        self._check_nonempty_input()
        shape = self.in_shape
        for dim, left, right in self.padded_dims():
            if left >= shape[dim] or right >= shape[dim]:
                raise LayerError(
                    f"Padding size should be less than the corresponding input dimension, but got: padding "
                    f"({left}, {right}) at dimension {dim} of input {list(shape)}",
                    hint=f"reflection padding must be < {shape[dim]} here", arg="padding")
        self._check_output_size()


class _ReplicationPadNd(_ShapedPadNd):
    pad_mode = "replicate"

    def check_mode(self) -> None:
        self._check_nonempty_input()
        self._check_output_size()


class _CircularPadNd(_ShapedPadNd):
    pad_mode = "circular"

    def check_mode(self) -> None:
        rank, ndim = len(self.in_shape), self.ndim or 0
        if rank not in (ndim + 1, ndim + 2):
            raise LayerError(f"expected {ndim + 1}D or {ndim + 2}D input (got {rank}D input)", arg="inputs")
        self._check_rank()
        shape = self.in_shape
        for dim, left, right in self.padded_dims():
            if left > shape[dim] or right > shape[dim]:
                raise LayerError("Padding value causes wrapping around more than once.",
                                 hint=f"circular padding must be <= {shape[dim]} in dim {dim}", arg="padding")
            if shape[dim] + left + right < 0:
                raise LayerError("Negative padding value is resulting in an empty dimension.", arg="padding")
        problem = self._copy_problem()
        if problem:
            raise LayerError(problem, hint="circular padding that crops one side and wraps the other needs "
                             "enough input left to wrap from", arg="padding")

    def _copy_problem(self) -> str | None:
        """ATen's _pad_circular copies the kept input into the output, then copies output slices onto its
        borders; with mixed-sign padding those copies can mismatch in shape or partly overlap, which
        torch rejects. Replayed here with at::slice's index rules and copy_'s overlap test."""
        shape = self.in_shape
        out = list(shape)
        dims = self.padded_dims()
        for dim, left, right in dims:
            out[dim] = shape[dim] + left + right
        for dim, left, right in dims:
            kept = _span(shape[dim], max(-left, 0), shape[dim] - max(-right, 0))
            into = _span(out[dim], max(left, 0), out[dim] - max(right, 0))
            if kept[1] - kept[0] not in (into[1] - into[0], 1):
                return "the kept input and its place in the output differ in size (a copy torch rejects)"
        for dim, left, right in dims:
            copies = []
            if left > 0:
                copies.append((_span(out[dim], 0, left),
                               _span(out[dim], out[dim] - left - max(right, 0), out[dim] - max(right, 0))))
            if right > 0:
                copies.append((_span(out[dim], out[dim] - right, out[dim]),
                               _span(out[dim], max(left, 0), max(left, 0) + right)))
            for dst, src in copies:
                if src[1] - src[0] not in (dst[1] - dst[0], 1):
                    return "the wrap-around copy mismatches in size (a copy torch rejects)"
                if _partial_overlap(out, dim, dst, src):
                    return ("unsupported operation: some elements of the input tensor and the written-to tensor "
                            "refer to a single memory location")
        return None


def _span(size: int, start: int, end: int) -> tuple[int, int]:
    """at::slice's bounds: a negative index counts once from the end, then both are clamped."""
    start, end = start + size if start < 0 else start, end + size if end < 0 else end
    start = min(max(start, 0), size)
    return start, min(max(end, start), size)


def _partial_overlap(shape: Sequence[int], dim: int, a: tuple[int, int], b: tuple[int, int]) -> bool:
    """copy_'s memory-overlap test for two slices along `dim` of one contiguous tensor."""
    outer, inner = math.prod(shape[:dim]), math.prod(shape[dim + 1:])
    if outer * inner * (a[1] - a[0]) == 0 or outer * inner * (b[1] - b[0]) == 0 or a == b:
        return False
    if outer > 1 and (a[1] - a[0] != shape[dim] or b[1] - b[0] != shape[dim]):
        return False  # a strided (non-dense) slice: torch's test gives up rather than reject
    return a[0] * inner < b[1] * inner and b[0] * inner < a[1] * inner


def _pad_args(ndim: int, with_value: bool) -> tuple[Arg, ...]:
    names = ("left", "right", "top", "bottom", "front", "back")[: 2 * ndim]
    pad = Arg("padding", "shape", doc=f"an int, or ({', '.join(names)}); negative values crop")
    if with_value:
        return (pad, Arg("value", "float", doc="the fill value"))
    return (pad,)


for _n in (1, 2, 3):
    for _prefix, _base, _what in (
        ("ZeroPad", _ZeroPadNd, "zero padding; negative values crop"),
        ("ConstantPad", _ConstantPadNd, "constant padding; negative values crop"),
        ("ReflectionPad", _ReflectionPadNd, "reflection padding"),
        ("ReplicationPad", _ReplicationPadNd, "replication (edge) padding"),
        ("CircularPad", _CircularPadNd, "circular (wrap-around) padding"),
    ):
        register(type(f"{_prefix}{_n}d", (_base,), {
            "type_name": f"{_prefix}{_n}d", "ndim": _n, "args": _pad_args(_n, _prefix == "ConstantPad"),
            "summary": f"{_n}D {_what} (torch.nn.{_prefix}{_n}d)",
        }))


# --------------------------------------------------------------------------------------------------
# Pixel shuffles: channels <-> space, on the last three dims (C, H, W); any dims before are batch dims
# --------------------------------------------------------------------------------------------------


class _PixelShuffleBase(Layer):
    family = "resize"
    factor_arg: ClassVar[str]
    trailing_spatial = True

    def spatial_rank(self) -> int:
        return 2  # [*, C, H, W]

    @property
    def factor(self) -> int:
        return int(self.values[self.factor_arg])

    def check(self) -> None:
        op, rank, r = self.op_name, len(self.in_shape), self.factor
        if rank < 3:
            raise LayerError(f"{op} expects input to have at least 3 dimensions, but got input with {rank} "
                             "dimension(s)", arg="inputs")
        if r <= 0:
            raise LayerError(f"{op} expects a positive {self.factor_arg}, but got {r}", arg=self.factor_arg)
        self.check_sizes(*self.in_shape[-3:])

    @property
    def op_name(self) -> str:
        return "pixel_shuffle" if self.type_name == "PixelShuffle" else "pixel_unshuffle"

    def check_sizes(self, channels: int, height: int, width: int) -> None:
        raise NotImplementedError

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return getattr(nn, self.type_name)(self.factor)


@register
class PixelShuffle(_PixelShuffleBase):
    type_name = "PixelShuffle"
    summary = "[*, C*r*r, H, W] -> [*, C, H*r, W*r] (torch.nn.PixelShuffle, sub-pixel upsampling)"
    factor_arg = "upscale_factor"
    args = (Arg("upscale_factor", "int", doc="r: the spatial scale; channels must divide by r*r"),)

    def check_sizes(self, channels: int, height: int, width: int) -> None:
        r = self.factor
        if channels % (r * r):
            raise LayerError(
                f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                f"upscale_factor, but input.size(-3)={channels} is not divisible by {r * r}", arg="upscale_factor")

    def output_shape(self) -> Shape:
        *lead, c, h, w = self.in_shape
        r = self.factor
        return (*lead, c // (r * r), h * r, w * r)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        # output pixel i comes from input pixel i // r: the jump shrinks by r, the field stays
        if len(in_rfs[0]) != 2 or len(self.in_shape) != 4:
            return globalise_all(in_rfs[0], self.in_shape)
        # (the nearest-neighbour upsampling of a transposed window with kernel = stride = r)
        return tuple(a.transposed_window(self.factor, self.factor, 0) for a in in_rfs[0])


@register
class PixelUnshuffle(_PixelShuffleBase):
    type_name = "PixelUnshuffle"
    summary = "[*, C, H*r, W*r] -> [*, C*r*r, H, W] (torch.nn.PixelUnshuffle, space-to-depth)"
    factor_arg = "downscale_factor"
    args = (Arg("downscale_factor", "int", doc="r: height and width must divide by it"),)

    def check_sizes(self, channels: int, height: int, width: int) -> None:
        r = self.factor
        for name, size in (("height", height), ("width", width)):
            if size % r:
                raise LayerError(f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but "
                                 f"input.size({-2 if name == 'height' else -1})={size} is not divisible by {r}",
                                 arg="downscale_factor")

    def output_shape(self) -> Shape:
        *lead, c, h, w = self.in_shape
        r = self.factor
        return (*lead, c * r * r, h // r, w // r)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        # each output pixel gathers an r x r block: a window of size r and stride r
        if len(in_rfs[0]) != 2 or len(self.in_shape) != 4:
            return globalise_all(in_rfs[0], self.in_shape)
        return tuple(a.window(self.factor, self.factor, 0) for a in in_rfs[0])
