"""Pooling, 1D to 3D: max, average, power-average and adaptive, with PyTorch's exact shape rules and errors.

The window arithmetic is ATen's `pooling_output_shape`: floor((n + 2p - d(k-1) - 1 [+ s-1 in ceil
mode]) / s) + 1, where in ceil mode the last window is dropped when it would start beyond the input
and the left padding. The checks are ATen's too (`pool2d_shape_check`, `pool3d_shape_check`,
`check_max_pool1d`); they are evaluated in PyTorch's order so the first failing one is reported.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import RF, Arg, AxisRF, Formula, Layer, Shape, axis_label, register
from convcalc.layers.window import dims_str, equivalent_inputs, spatial_split

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _tdiv(a: int, b: int) -> int:
    """C++ integer division (truncates toward zero), which ATen's checks use."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def pool_out_size(n: int, k: int, pad_l: int, pad_r: int, stride: int, dilation: int, ceil_mode: bool) -> int:
    """ATen's pooling_output_shape_pad_lr (floor division, then ceil mode's last-window rule)."""
    out = (n + pad_l + pad_r - dilation * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= n + pad_l:
        # the last window must start inside the input or the left padding
        out -= 1
    return out


def _lst(values: Sequence[Any]) -> list[Any]:
    return list(values)


class _PoolBase(Layer):
    family = "pool"
    trailing_spatial = True

    @property
    def op_name(self) -> str:
        raise NotImplementedError

    def _split(self) -> None:
        self.lead, self.channels, self.spatial_in = spatial_split(
            self.type_name, self.op_name, self.ndim or 0, self.in_shape)

    def _require_nonempty(self) -> None:
        """ATen rejects an input with an empty non-batch dimension."""
        batched = len(self.in_shape) == (self.ndim or 0) + 2
        if 0 in self.in_shape[int(batched):]:
            raise LayerError(
                f"{self.op_name}(): Expected input to have non-zero size for non-batch dimensions, "
                f"but input has sizes {list(self.in_shape)}",
                hint="a layer before this one produced an empty tensor", arg="inputs")

    def _out_spatial(self) -> tuple[int, ...]:
        raise NotImplementedError

    def output_shape(self) -> Shape:
        return (*self.lead, self.channels, *self._out_spatial())

    @property
    def outer(self) -> int:
        """Batch x channels: the number of independent planes pooled."""
        return math.prod(self.lead) * self.channels


# --------------------------------------------------------------------------------------------------
# Fixed-window pools: MaxPool, AvgPool, LPPool
# --------------------------------------------------------------------------------------------------


class _WindowPool(_PoolBase):
    """A sliding window with kernel_size, stride (None: kernel_size), padding, dilation and ceil_mode."""

    # which ATen checks apply: 'max' (max_pool*d), 'avg' (avg_pool*d)
    rules: ClassVar[str] = "max"

    @property
    def k(self) -> tuple[int, ...]:
        return tuple(self.kernel_size)

    @property
    def s(self) -> tuple[int, ...]:
        return tuple(self.stride) if self.values.get("stride") is not None else self.k

    @property
    def p(self) -> tuple[int, ...]:
        return tuple(self.values.get("padding", None) or (0,) * (self.ndim or 0))

    @property
    def d(self) -> tuple[int, ...]:
        return tuple(self.values.get("dilation", None) or (1,) * (self.ndim or 0))

    @property
    def ceil(self) -> bool:
        return bool(self.ceil_mode)

    def axis_out(self, axis: int, n: int) -> int:
        return pool_out_size(n, self.k[axis], self.p[axis], self.p[axis], self.s[axis], self.d[axis], self.ceil)

    def _out_spatial(self) -> tuple[int, ...]:
        return tuple(self.axis_out(i, n) for i, n in enumerate(self.spatial_in))

    # -- checks -------------------------------------------------------------------------------------
    def check(self) -> None:
        self._split()
        if self.rules == "max" and self.ndim == 1:
            self._check_max1d()
        else:
            self._check_nd()

    def _check_max1d(self) -> None:
        # ATen's check_max_pool1d, in its order
        self._require_nonempty()
        (k,), (s,), (p,), (d,) = self.k, self.s, self.p, self.d
        op = "max_pool1d()"
        if k <= 0:
            raise LayerError(f"{op} kernel_size must be greater than zero, but got {k}", arg="kernel_size")
        if s <= 0:
            raise LayerError(f"{op} stride must be greater than zero, but got {s}", arg="stride")
        if p < 0:
            raise LayerError(f"{op} padding must be non-negative, but got {p}", arg="padding")
        if p > k // 2:
            raise LayerError(f"{op} padding should be at most half of kernel size, but got padding={p} and "
                             f"kernel_size={k}", hint=f"use padding <= {k // 2}", arg="padding")
        if d <= 0:
            raise LayerError(f"{op} dilation must be greater than zero, but got {d}", arg="dilation")
        out = self.axis_out(0, self.spatial_in[0])
        if out <= 0:
            raise LayerError(f"{op} Invalid computed output size: {out}", hint=self._small_hint(), arg="kernel_size")

    def _check_nd(self) -> None:
        ndim = self.ndim or 0
        if self.rules == "avg" and self.values.get("divisor_override") == 0:
            raise LayerError("divisor must be not zero", arg="divisor_override")
        # ATen's pooling_output_shape, one spatial dim after another
        for i in range(ndim):
            k, s, p, d = self.k[i], self.s[i], self.p[i], self.d[i]
            if s == 0:
                raise LayerError("stride should not be zero", arg="stride")
            if p < 0:
                raise LayerError(f"pad must be non-negative, but got pad: {p}", arg="padding")
            if p > _tdiv((k - 1) * d + 1, 2):
                raise LayerError(f"pad should be at most half of effective kernel size, but got pad={p}, "
                                 f"kernel_size={k} and dilation={d}", arg="padding")
        # then pool2d_shape_check / pool3d_shape_check
        if any(k <= 0 for k in self.k):
            raise LayerError(f"kernel size should be greater than zero, but got kernel_size={_lst(self.k)}",
                             arg="kernel_size")
        if any(s <= 0 for s in self.s):
            raise LayerError(f"stride should be greater than zero, but got stride={_lst(self.s)}", arg="stride")
        if any(d <= 0 for d in self.d):
            raise LayerError(f"dilation should be greater than zero, but got dilation={_lst(self.d)}",
                             arg="dilation")
        self._require_nonempty()
        if self.rules == "avg" and ndim == 3 and any(n < k for n, k in zip(self.spatial_in, self.k)):
            # avg_pool3d alone compares the unpadded input with the kernel
            raise LayerError(
                f"input image ({dims_str(self.spatial_in)}) smaller than kernel size ({dims_str(self.k)})",
                hint="AvgPool3d needs every input dim >= kernel_size even with padding", arg="kernel_size")
        if any(p > k // 2 for p, k in zip(self.p, self.k)):
            raise LayerError(
                f"pad should be smaller than or equal to half of kernel size, but got padding={_lst(self.p)}, "
                f"kernel_size={_lst(self.k)}", hint="use padding <= kernel_size // 2 in every dim", arg="padding")
        outs = self._out_spatial()
        if any(o < 1 for o in outs):
            raise LayerError(
                f"Given input size: ({self.channels}x{dims_str(self.spatial_in)}). Calculated output size: "
                f"({self.channels}x{dims_str(outs)}). Output size is too small",
                hint=self._small_hint(), arg="kernel_size")

    def _small_hint(self) -> str:
        return (f"the input {dims_str(self.spatial_in)} is smaller than the (dilated) window "
                f"{dims_str([d * (k - 1) + 1 for k, d in zip(self.k, self.d)])} plus padding: "
                "use a smaller kernel_size, more padding or a larger input")

    # -- counts, receptive field, ambiguity -----------------------------------------------------------
    @property
    def window(self) -> int:
        return math.prod(self.k)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return tuple(axis.window(k, s, p, d)
                     for axis, k, s, p, d in zip(in_rfs[0], self.k, self.s, self.p, self.d))

    def formulas(self, in_rfs: Sequence[RF]) -> list[Formula]:
        nd = self.ndim or 0
        lines = []
        for i, n in enumerate(self.spatial_in):
            k, s, p, d = self.k[i], self.s[i], self.p[i], self.d[i]
            if not self.ceil:
                rule = "floor((n + 2*p - d*(k-1) - 1)/s) + 1"
                numbers = f"floor(({n} + 2*{p} - {d}*({k}-1) - 1)/{s}) + 1"
            else:
                rule = "ceil((n + 2*p - d*(k-1) - 1)/s) + 1, minus 1 if the last window would start past n + p"
                numbers = f"ceil(({n} + 2*{p} - {d}*({k}-1) - 1)/{s}) + 1"
                if (n + 2 * p - d * (k - 1) - 1 + s - 1) // s + 1 != self.axis_out(i, n):
                    numbers += " - 1"
            lines.append(Formula(f"output size ({axis_label(nd, i)})", rule, numbers, self.axis_out(i, n)))
        for i, axis in enumerate(in_rfs[0] if in_rfs else ()):
            lines += axis.window_formulas(axis_label(nd, i), self.k[i], self.s[i], self.p[i], self.d[i])
        return lines

    def ambiguity(self) -> dict[str, Any] | None:
        if all(s == 1 for s in self.s):
            return None

        def out_of(axis: int, n: int) -> int | None:
            if self.rules == "avg" and self.ndim == 3 and n < self.k[axis]:
                return None
            out = self.axis_out(axis, n)
            return out if out >= 1 else None

        ranges = [list(equivalent_inputs(lambda n, i=i: out_of(i, n), n, self.s[i]))
                  for i, n in enumerate(self.spatial_in)]
        return {"equivalent_input_sizes": ranges}

    def resolved_args(self) -> dict[str, Any]:
        values = dict(self.values)
        values["stride"] = self.s
        return values


def _window_args(avg: bool, ndim: int) -> tuple[Arg, ...]:
    head = (
        Arg("kernel_size", "ints", doc="window size, an int or one per spatial dim"),
        Arg("stride", "ints", None, doc="step of the window (default: kernel_size)"),
        Arg("padding", "ints", 0, doc="implicit padding on both sides (at most kernel_size // 2)"),
    )
    if not avg:
        return head + (
            Arg("dilation", "ints", 1, doc="spacing between window elements"),
            Arg("return_indices", "bool", False, doc="not supported: a graph node has one output"),
            Arg("ceil_mode", "bool", False, doc="round the output size up instead of down"),
        )
    tail = (
        Arg("ceil_mode", "bool", False, doc="round the output size up instead of down"),
        Arg("count_include_pad", "bool", True, doc="count the zero padding in the average's divisor"),
    )
    if ndim > 1:
        tail += (Arg("divisor_override", "int", None, nullable=True, doc="divide by this instead of the window size"),)
    return head + tail


class _MaxPoolNd(_WindowPool):
    rules = "max"
    flops_rule = "(kernel elements - 1) comparisons per output element"

    @property
    def op_name(self) -> str:
        return f"max_pool{self.ndim}d"

    def check(self) -> None:
        if self.return_indices:
            raise LayerError(
                "return_indices=true is not supported: the layer would return (values, indices), "
                "and a layer in a network has a single output",
                hint="drop return_indices (MaxUnpool is not modelled)", arg="return_indices")
        super().check()

    def flops(self) -> int:
        return (self.window - 1) * self.numel()

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        cls = getattr(nn, self.type_name)
        stride = None if self.values.get("stride") is None else tuple(self.stride)
        return cls(tuple(self.k), stride=stride, padding=tuple(self.p), dilation=tuple(self.d),
                   return_indices=False, ceil_mode=self.ceil)


class _AvgPoolNd(_WindowPool):
    rules = "avg"
    flops_rule = "kernel elements additions + 1 division per output element"

    @property
    def op_name(self) -> str:
        return f"avg_pool{self.ndim}d"

    def flops(self) -> int:
        return (self.window + 1) * self.numel()

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        cls = getattr(nn, self.type_name)
        stride = None if self.values.get("stride") is None else tuple(self.stride)
        kwargs: dict[str, Any] = {}
        if self.ndim and self.ndim > 1:
            kwargs["divisor_override"] = self.divisor_override
        return cls(tuple(self.k), stride=stride, padding=tuple(self.p), ceil_mode=self.ceil,
                   count_include_pad=self.count_include_pad, **kwargs)


class _LPPoolNd(_WindowPool):
    """Power-average pooling: F.lp_pool*d is an avg_pool*d (max_pool*d for norm_type=±inf), no padding."""

    flops_rule = "2 * kernel elements + 2 per output element (powers, sum, scale, root)"

    @property
    def rules(self) -> str:  # type: ignore[override]
        return "max" if math.isinf(self.norm_type) else "avg"

    @property
    def op_name(self) -> str:
        return f"{'max' if self.rules == 'max' else 'avg'}_pool{self.ndim}d"

    @property
    def k(self) -> tuple[int, ...]:
        size = self.kernel_size
        return (size,) if isinstance(size, int) else tuple(size)

    def flops(self) -> int:
        return (2 * self.window + 2) * self.numel()

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        cls = getattr(nn, self.type_name)
        kernel = self.kernel_size if self.ndim == 1 else tuple(self.kernel_size)
        stride = None if self.values.get("stride") is None else tuple(self.stride)
        return cls(self.norm_type, kernel, stride=stride, ceil_mode=self.ceil)


def _lp_args(ndim: int) -> tuple[Arg, ...]:
    return (
        Arg("norm_type", "float", doc="the power p (inf: max pooling)"),
        # F.lp_pool1d multiplies by kernel_size, so it must be a plain int; 2D/3D unpack one per dim
        Arg("kernel_size", "int" if ndim == 1 else "ints_exact", doc="window size"),
        Arg("stride", "ints", None, doc="step of the window (default: kernel_size)"),
        Arg("ceil_mode", "bool", False, doc="round the output size up instead of down"),
    )


for _n in (1, 2, 3):
    register(type(f"MaxPool{_n}d", (_MaxPoolNd,), {
        "type_name": f"MaxPool{_n}d", "ndim": _n, "args": _window_args(False, _n),
        "summary": f"{_n}D max pooling (torch.nn.MaxPool{_n}d)",
    }))
    register(type(f"AvgPool{_n}d", (_AvgPoolNd,), {
        "type_name": f"AvgPool{_n}d", "ndim": _n, "args": _window_args(True, _n),
        "summary": f"{_n}D average pooling (torch.nn.AvgPool{_n}d)",
    }))
    register(type(f"LPPool{_n}d", (_LPPoolNd,), {
        "type_name": f"LPPool{_n}d", "ndim": _n, "args": _lp_args(_n),
        "summary": f"{_n}D power-average pooling (torch.nn.LPPool{_n}d)",
    }))


# --------------------------------------------------------------------------------------------------
# Adaptive pools
# --------------------------------------------------------------------------------------------------


def adaptive_windows(n: int, out: int) -> list[int]:
    """Window sizes of an adaptive pool along one axis: [floor(i*n/out), ceil((i+1)*n/out))."""
    return [-(-(i + 1) * n // out) - (i * n // out) for i in range(out)]


def adaptive_rf(axis: AxisRF, n: int, out: int) -> AxisRF:
    """The field after an adaptive pool from n to `out` positions along one axis."""
    if out == n:
        return axis
    if out > 1 and n % out == 0:  # equal windows: an ordinary pool with kernel = stride = n / out
        return axis.window(n // out, n // out, 0)
    return axis.globalised(n)  # a global pool, or windows of varying size and step that no one field describes


class _AdaptivePoolNd(_PoolBase):
    reducer: ClassVar[str] = "avg"

    @property
    def op_name(self) -> str:
        return f"adaptive_{self.reducer}_pool{self.ndim}d"

    def check(self) -> None:
        if self.reducer == "max" and self.return_indices:
            raise LayerError(
                "return_indices=true is not supported: the layer would return (values, indices), "
                "and a layer in a network has a single output", arg="return_indices")
        if self.ndim == 1 and None in self.output_size:
            raise LayerError(
                f"{self.op_name}(): output_size must be an integer (null, 'keep this dim', is accepted by the "
                "2D and 3D adaptive pools only)", arg="output_size")
        self._split()
        negative = any(o is not None and o < 0 for o in self.output_size)
        if self.reducer == "avg" and negative:
            raise LayerError(
                f"{self.op_name}: elements of output_size must be greater than or equal to 0 but received "
                f"{list(self.output_size)}", arg="output_size")
        if self.reducer == "avg" and (self.ndim or 0) < 3:
            # adaptive_avg_pool1d/2d check only the spatial dims: an empty channel dim passes
            if any(n == 0 for n in self.spatial_in):
                raise LayerError(
                    f"{self.op_name}(): Expected input to have non-zero size for non-batch dimensions, "
                    f"but input has sizes {list(self.in_shape)}", arg="inputs")
        else:
            self._require_nonempty()
        if negative:
            raise LayerError(f"Trying to create tensor with negative dimension: output_size="
                             f"{list(self.output_size)}", arg="output_size")

    @property
    def target(self) -> tuple[int, ...]:
        return tuple(n if o is None else o for n, o in zip(self.spatial_in, self.output_size))

    def _out_spatial(self) -> tuple[int, ...]:
        return self.target

    def window_sum(self) -> int:
        """Total number of input taps over all outputs (windows vary in size; all are counted)."""
        per_axis = [sum(adaptive_windows(n, o)) for n, o in zip(self.spatial_in, self.target)]
        return self.outer * math.prod(per_axis)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return tuple(adaptive_rf(axis, n, o) for axis, n, o in zip(in_rfs[0], self.spatial_in, self.target))

    def resolved_args(self) -> dict[str, Any]:
        values = dict(self.values)
        values["output_size"] = list(self.output_size)
        return values


class _AdaptiveAvgPoolNd(_AdaptivePoolNd):
    reducer = "avg"
    flops_rule = ("window additions + 1 division per output element, summing the true (varying) adaptive "
                  "window sizes")

    def flops(self) -> int:
        return self.window_sum() + self.numel()

    def fvcore_flops(self) -> int:
        # fvcore counts aten::adaptive_avg_pool2d as one flop per input element, and no other adaptive pool
        return math.prod(self.in_shape) if self.ndim == 2 else 0

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        size: Any = self.output_size[0] if self.ndim == 1 else tuple(self.output_size)
        return getattr(nn, self.type_name)(size)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    reducer = "max"
    flops_rule = "(window - 1) comparisons per output element, summing the true adaptive window sizes"

    def flops(self) -> int:
        return self.window_sum() - self.numel()

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        size: Any = self.output_size[0] if self.ndim == 1 else tuple(self.output_size)
        return getattr(nn, self.type_name)(size)


for _n in (1, 2, 3):
    register(type(f"AdaptiveAvgPool{_n}d", (_AdaptiveAvgPoolNd,), {
        "type_name": f"AdaptiveAvgPool{_n}d", "ndim": _n,
        "args": (Arg("output_size", "opt_ints", doc="target size, an int or one per dim (null keeps a dim)"),),
        "summary": f"{_n}D adaptive average pooling (torch.nn.AdaptiveAvgPool{_n}d)",
    }))
    register(type(f"AdaptiveMaxPool{_n}d", (_AdaptiveMaxPoolNd,), {
        "type_name": f"AdaptiveMaxPool{_n}d", "ndim": _n,
        "args": (Arg("output_size", "opt_ints", doc="target size, an int or one per dim (null keeps a dim)"),
                 Arg("return_indices", "bool", False, doc="not supported: a graph node has one output")),
        "summary": f"{_n}D adaptive max pooling (torch.nn.AdaptiveMaxPool{_n}d)",
    }))
