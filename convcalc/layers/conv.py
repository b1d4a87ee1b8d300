"""Convolution and transposed convolution, 1D to 3D, with PyTorch's exact shape rules and errors."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import RF, Arg, Formula, Layer, Shape, axis_label, register
from convcalc.layers.window import dims_str, equivalent_inputs, spatial_split

if TYPE_CHECKING:  # pragma: no cover
    import torch

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _conv_args(transposed: bool) -> tuple[Arg, ...]:
    common_head = (
        Arg("in_channels", "int", inferred=True, doc="channels of the incoming tensor"),
        Arg("out_channels", "int", doc="number of output channels"),
        Arg("kernel_size", "ints_exact", doc="window size, an int or one per spatial dim"),
        Arg("stride", "ints", 1, doc="step of the window"),
    )
    if transposed:
        return common_head + (
            Arg("padding", "ints", 0, doc="implicit zero padding removed from both sides of the output"),
            Arg("output_padding", "ints", 0, doc="extra size added to one side of the output"),
            Arg("groups", "int", 1, doc="blocked connections from input to output channels"),
            Arg("bias", "bool", True, doc="learnable bias"),
            Arg("dilation", "ints", 1, doc="spacing between kernel elements"),
            Arg("padding_mode", "str", "zeros", choices=("zeros",), doc="only 'zeros' is supported"),
            Arg("output_size", "any", None, nullable=True, keyword_only=True,
                doc="target output size (a shape or a layer name); convcalc solves output_padding"),
        )
    return common_head + (
        Arg("padding", "padding", 0, choices=("same", "valid"), doc="int, per-dim list, 'same' or 'valid'"),
        Arg("dilation", "ints", 1, doc="spacing between kernel elements"),
        Arg("groups", "int", 1, doc="blocked connections from input to output channels"),
        Arg("bias", "bool", True, doc="learnable bias"),
        Arg("padding_mode", "str", "zeros", choices=_PADDING_MODES, doc="how the padding is filled"),
    )


class _ConvBase(Layer):
    family = "conv"
    transposed: ClassVar[bool] = False
    trailing_spatial = True
    flops_rule = "2 * MACs (a multiply and an add each), plus one add per output element for the bias"

    def _check_common(self) -> None:
        groups = self.groups
        if groups <= 0:
            raise LayerError(f"groups must be a positive integer, got {groups}", arg="groups")
        _, channels, self.spatial_in = spatial_split(self.type_name, self.op_name, self.ndim or 0, self.in_shape)
        self.infer("in_channels", channels, "channels")
        if channels % groups:
            raise LayerError(
                f"in_channels ({channels}) must be divisible by groups ({groups})",
                hint=_divisor_hint(channels, groups), arg="groups",
            )
        if self.out_channels % groups:
            raise LayerError(
                f"out_channels ({self.out_channels}) must be divisible by groups ({groups})",
                hint=_divisor_hint(self.out_channels, groups), arg="groups",
            )
        if self.out_channels <= 0:
            # 0 is accepted by the constructor, but every forward rejects the empty weight
            raise LayerError(f"out_channels must be positive, got {self.out_channels}", arg="out_channels")
        if any(k <= 0 for k in self.kernel_size):
            raise LayerError(
                f"kernel size should be greater than zero, got kernel_size={list(self.kernel_size)}",
                arg="kernel_size",
            )

    @property
    def op_name(self) -> str:
        return f"conv{'_transpose' if self.transposed else ''}{self.ndim}d"

    @property
    def batch(self) -> int:
        return self.in_shape[0] if len(self.in_shape) == (self.ndim or 0) + 2 else 1

    def _check_steps(self) -> None:
        if any(p < 0 for p in self.pads_lr()[0] + self.pads_lr()[1]) and self.padding_mode == "zeros":
            raise LayerError(f"negative padding is not supported, got padding={list(self.padding)}", arg="padding")
        if any(s <= 0 for s in self.stride):
            raise LayerError(f"non-positive stride is not supported, got stride={list(self.stride)}", arg="stride")
        if any(d <= 0 for d in self.dilation) and not self._zero_dilation_allowed():
            raise LayerError(f"dilation should be greater than zero, got dilation={list(self.dilation)}",
                             arg="dilation")

    def _zero_dilation_allowed(self) -> bool:
        return False

    def weight_numel(self) -> int:
        in_c, out_c, g = self.in_channels, self.out_channels, self.groups
        per_group = (out_c * (in_c // g)) if not self.transposed else (in_c * (out_c // g))
        return per_group * math.prod(self.kernel_size)

    def params(self) -> int:
        return self.weight_numel() + (self.out_channels if self.bias else 0)

    def macs(self) -> int:
        # Conv: every output element is a dot product over in_channels/groups * kernel taps.
        # ConvTranspose: every input element is scattered through out_channels/groups * kernel taps,
        # which is how fvcore and FlopCounterMode count it (padding trimmed afterwards still counts).
        if self.transposed:
            positions = self.batch * math.prod(self.spatial_in)
        else:
            positions = self.batch * math.prod(self.out_shape[-(self.ndim or 0):])
        return positions * self.weight_numel()

    def flops(self) -> int:
        return 2 * self.macs() + (self.numel() if self.bias else 0)

    def fvcore_flops(self) -> int:
        return self.macs()

    def torch_flops(self) -> int:
        return 2 * self.macs()

    def pads_lr(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        raise NotImplementedError

    def _count_formulas(self) -> list[Formula]:
        """Params, MACs and FLOPs written out (shared by conv and transposed conv)."""
        in_c, out_c, g = self.in_channels, self.out_channels, self.groups
        kernel = "*".join(map(str, self.kernel_size))
        if self.transposed:
            rule = "in_channels * (out_channels/groups) * prod(kernel_size)"
            numbers = f"{in_c}*({out_c}/{g})*{kernel}"
            where = "N * prod(input spatial) * weight (each input element is scattered through the kernel)"
            positions = self.spatial_in
        else:
            rule = "out_channels * (in_channels/groups) * prod(kernel_size)"
            numbers = f"{out_c}*({in_c}/{g})*{kernel}"
            where = "N * prod(output spatial) * weight (one multiply-add per weight per output position)"
            positions = self.out_shape[-(self.ndim or 0):]
        weight = self.weight_numel()
        bias = out_c if self.bias else 0
        lines = [
            Formula("weight params", rule, numbers, weight),
            Formula("bias params", "out_channels" if self.bias else "0 (bias=False)", str(bias), bias),
            Formula("params", "weight + bias", f"{weight} + {bias}", self.params()),
            Formula("MACs", where, f"{self.batch}*{'*'.join(map(str, positions))}*{weight}", self.macs()),
        ]
        if self.bias:
            lines.append(Formula("FLOPs", "2*MACs + one bias add per output element",
                                 f"2*{self.macs()} + {self.numel()}", self.flops()))
        else:
            lines.append(Formula("FLOPs", "2*MACs", f"2*{self.macs()}", self.flops()))
        return lines


def _nearest_changes_hint(layer: Layer, axis: int, target: int) -> str:
    from convcalc.understand.transpose import nearest_changes_hint  # searches variants of this layer

    return nearest_changes_hint(layer, axis, target)


def _divisor_hint(channels: int, groups: int) -> str:
    divisors = [d for d in range(1, channels + 1) if channels % d == 0] if channels > 0 else []
    near = sorted(divisors, key=lambda d: abs(d - groups))[:3]
    return f"groups must divide {channels}; nearby choices: {', '.join(map(str, sorted(near)))}" if near else ""


class _ConvNd(_ConvBase):
    summary = "convolution"

    def check(self) -> None:
        self._check_common()
        if isinstance(self.padding, str):
            if self.padding == "same" and any(s != 1 for s in self.stride):
                raise LayerError(
                    "padding='same' is not supported for strided convolutions",
                    hint="use an explicit integer padding, e.g. padding=(kernel_size - 1) // 2", arg="padding",
                )
        self._check_steps()
        left, right = self.pads_lr()
        if self.padding_mode != "zeros":
            self._check_explicit_pad(left, right)
        padded = [n + lo + hi for n, lo, hi in zip(self.spatial_in, left, right)]
        effective = [d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation)]
        if any(p < e for p, e in zip(padded, effective)):
            raise LayerError(
                f"Calculated padded input size per channel: ({dims_str(padded)}). Kernel size: "
                f"({dims_str(effective)}). Kernel size can't be greater than actual input size",
                hint=self._fit_hint(padded, effective), arg="kernel_size",
            )

    def _fit_hint(self, padded: Sequence[int], effective: Sequence[int]) -> str:
        dims = [i for i, (p, e) in enumerate(zip(padded, effective)) if p < e]
        i = dims[0]
        need = -(-(effective[i] - self.spatial_in[i]) // 2)
        return (f"spatial dim {i} is {self.spatial_in[i]} but the dilated kernel spans {effective[i]}: "
                f"use padding >= {need}, a smaller kernel or dilation, or a larger input")

    def _check_explicit_pad(self, left: Sequence[int], right: Sequence[int]) -> None:
        # padding_mode other than zeros runs F.pad first, with that mode's own limits.
        for i, (n, lo, hi) in enumerate(zip(self.spatial_in, left, right)):
            if self.padding_mode == "reflect" and (lo >= n or hi >= n):
                raise LayerError(
                    f"reflect padding ({lo}, {hi}) must be less than the input size {n} in spatial dim {i}",
                    hint=f"use padding <= {n - 1}, or padding_mode='replicate' / 'zeros'", arg="padding",
                )
            if self.padding_mode == "circular" and (lo > n or hi > n):
                raise LayerError(
                    f"circular padding ({lo}, {hi}) wraps around more than once for input size {n} "
                    f"in spatial dim {i}",
                    hint=f"use padding <= {n}", arg="padding",
                )
            if n + lo + hi <= 0:
                raise LayerError(f"padding ({lo}, {hi}) leaves no input in spatial dim {i}", arg="padding")

    def fvcore_note(self) -> str | None:
        # with another padding_mode torch pads explicitly and convolves with padding 0, which fvcore counts
        if isinstance(self.padding, str) and self.padding_mode == "zeros":
            return (f"real fvcore counts 0 for padding='{self.padding}': torch runs it as "
                    "aten::_convolution_mode, which fvcore has no handle for")
        return None

    def pads_lr(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        if self.padding == "valid":
            zero = (0,) * (self.ndim or 0)
            return zero, zero
        if self.padding == "same":
            totals = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
            left = tuple(t // 2 for t in totals)
            return left, tuple(t - lo for t, lo in zip(totals, left))
        return tuple(self.padding), tuple(self.padding)

    def out_size(self, axis: int, n: int) -> int | None:
        left, right = self.pads_lr()
        k, s, d = self.kernel_size[axis], self.stride[axis], self.dilation[axis]
        padded = n + left[axis] + right[axis]
        if padded < d * (k - 1) + 1:
            return None
        return (padded - d * (k - 1) - 1) // s + 1

    def output_shape(self) -> Shape:
        lead = self.in_shape[: len(self.in_shape) - (self.ndim or 0) - 1]
        spatial = tuple(self.out_size(i, n) or 0 for i, n in enumerate(self.spatial_in))
        return (*lead, self.out_channels, *spatial)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        left, _ = self.pads_lr()
        return tuple(
            axis.window(k, s, p, d)
            for axis, k, s, p, d in zip(in_rfs[0], self.kernel_size, self.stride, left, self.dilation)
        )

    def formulas(self, in_rfs: Sequence[RF]) -> list[Formula]:
        nd = self.ndim or 0
        left, right = self.pads_lr()
        lines = []
        for i, n in enumerate(self.spatial_in):
            k, st, d, lo, hi = self.kernel_size[i], self.stride[i], self.dilation[i], left[i], right[i]
            if lo == hi:
                rule, pads = "floor((n + 2*p - d*(k-1) - 1)/s) + 1", f"2*{lo}"
            else:
                rule, pads = "floor((n + p_left + p_right - d*(k-1) - 1)/s) + 1", f"{lo} + {hi}"
            lines.append(Formula(f"output size ({axis_label(nd, i)})", rule,
                                 f"floor(({n} + {pads} - {d}*({k}-1) - 1)/{st}) + 1", self.out_size(i, n) or 0))
        for i, axis in enumerate(in_rfs[0] if in_rfs else ()):
            lines += axis.window_formulas(axis_label(nd, i), self.kernel_size[i], self.stride[i], left[i],
                                          self.dilation[i])
        return lines + self._count_formulas()

    def ambiguity(self) -> dict[str, Any] | None:
        if all(s == 1 for s in self.stride):
            return None
        ranges = [
            list(equivalent_inputs(lambda n, i=i: self.out_size(i, n), n, self.stride[i]))
            for i, n in enumerate(self.spatial_in)
        ]
        return {"equivalent_input_sizes": ranges}

    def resolved_args(self) -> dict[str, Any]:
        values = dict(self.values)
        if isinstance(values["padding"], tuple):
            values["padding"] = list(values["padding"])
        return values

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        cls = getattr(nn, self.type_name)
        padding = self.padding if isinstance(self.padding, str) else tuple(self.padding)
        return cls(
            self.in_channels, self.out_channels, tuple(self.kernel_size), stride=tuple(self.stride),
            padding=padding, dilation=tuple(self.dilation), groups=self.groups, bias=self.bias,
            padding_mode=self.padding_mode,
        )


class _ConvTransposeNd(_ConvBase):
    summary = "transposed convolution (fractionally strided)"
    transposed = True

    def check(self) -> None:
        self._check_common()
        if self.output_size is not None:
            self._solve_output_padding()
        self._check_steps()
        if any(p < 0 for p in self.output_padding):
            raise LayerError(f"negative output_padding is not supported, got {list(self.output_padding)}",
                             arg="output_padding")
        for i, (op, s, d) in enumerate(zip(self.output_padding, self.stride, self.dilation)):
            if op >= s and op >= d:
                valid = max(s, d) - 1
                raise LayerError(
                    f"output_padding must be smaller than either stride or dilation, but got "
                    f"output_padding={list(self.output_padding)}, stride={list(self.stride)}, "
                    f"dilation={list(self.dilation)}",
                    hint=f"in spatial dim {i} output_padding may be 0..{valid}", arg="output_padding",
                )
        outs = [self.out_size(i, n) for i, n in enumerate(self.spatial_in)]
        # the native kernels need an output of at least 1; oneDNN's deconvolution accepts an empty one
        if any(o < (0 if self.uses_mkldnn() else 1) for o in outs):
            raise LayerError(
                f"Given input size per channel: ({dims_str(self.spatial_in)}). Calculated output size per "
                f"channel: ({dims_str(outs)}). Output size is too small",
                hint="reduce padding, or increase kernel_size, stride or dilation", arg="padding",
            )

    def uses_mkldnn(self) -> bool:
        """Whether ATen runs this transposed conv with oneDNN rather than its native kernels.

        ConvParams::use_mkldnn for a float32 CPU input in a multi-threaded torch (the default on a
        multi-core machine); 1D convolutions run as 2D ones of height 1. The two backends differ only
        on degenerate layers: an empty output, or a dilation of 0.
        """
        if any(op >= s for op, s in zip(self.output_padding, self.stride)):
            return False  # oneDNN cannot pad the output by a stride or more: the native kernel runs
        dims, kernel = list(self.spatial_in), list(self.kernel_size)
        if self.ndim == 1:
            dims, kernel = [1] + dims, [1] + kernel
        n = self.batch
        return (self.groups > 1 or (kernel[-1] > 3 and kernel[-2] > 3) or n > 1
                or n * self.in_channels * dims[0] * dims[1] > 20480)

    def _zero_dilation_allowed(self) -> bool:
        # oneDNN's 1D/2D deconvolution (measured) accepts dilation 0 along a dim where the taps cannot
        # collide: a one-tap kernel, or a single input position with the kernel no longer than the stride
        return ((self.ndim or 0) < 3 and all(d >= 0 for d in self.dilation) and self.uses_mkldnn()
                and all(k == 1 or (n == 1 and k <= s)
                        for k, d, n, s in zip(self.kernel_size, self.dilation, self.spatial_in, self.stride)
                        if d == 0))

    def out_size(self, axis: int, n: int, output_padding: int | None = None) -> int:
        k, s, d, p = self.kernel_size[axis], self.stride[axis], self.dilation[axis], self.padding[axis]
        op = self.output_padding[axis] if output_padding is None else output_padding
        return (n - 1) * s - 2 * p + d * (k - 1) + op + 1

    def valid_output_paddings(self, axis: int) -> range:
        return range(0, max(self.stride[axis], self.dilation[axis]))

    def _solve_output_padding(self) -> None:
        target = self.output_size
        ndim = self.ndim or 0
        if not (isinstance(target, (list, tuple)) and all(isinstance(t, int) for t in target)):
            raise LayerError("output_size must be a list of sizes (or the name of a layer)", arg="output_size")
        target = tuple(target)[-ndim:] if len(target) >= ndim else None
        if target is None:
            raise LayerError(f"output_size needs at least {ndim} sizes", arg="output_size")
        solved = []
        for i, (n, want) in enumerate(zip(self.spatial_in, target)):
            # forward(output_size=) picks output_padding below the stride only, even where the
            # constructor accepts up to max(stride, dilation) - 1; follow forward, as the spec promises.
            reachable = {self.out_size(i, n, op): op for op in range(self.stride[i])}
            if want not in reachable:
                sizes = sorted(reachable)
                wider = {self.out_size(i, n, op): op for op in self.valid_output_paddings(i)}
                extra = (f"PyTorch's forward(output_size=) cannot reach it, but an explicit "
                         f"output_padding={wider[want]} in this dim can; " if want in wider else "")
                raise LayerError(
                    f"no output_padding reaches size {want} in spatial dim {i}: from {n} this layer reaches "
                    f"{', '.join(map(str, sizes))}",
                    hint=extra + f"output_size can choose output_padding 0..{self.stride[i] - 1}; "
                    + _nearest_changes_hint(self, i, want),
                    arg="output_size",
                )
            solved.append(reachable[want])
        given = self.values.get("output_padding")
        if given is not None and any(g != 0 for g in given) and tuple(given) != tuple(solved):
            raise LayerError(
                f"output_padding={list(given)} contradicts output_size={list(target)}, which needs {solved}",
                arg="output_padding",
            )
        self.values["output_padding"] = tuple(solved)
        self.values["output_size"] = list(target)

    def output_shape(self) -> Shape:
        lead = self.in_shape[: len(self.in_shape) - (self.ndim or 0) - 1]
        spatial = tuple(self.out_size(i, n) for i, n in enumerate(self.spatial_in))
        return (*lead, self.out_channels, *spatial)

    def pads_lr(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return tuple(self.padding), tuple(self.padding)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return tuple(
            axis.transposed_window(k, s, p, d)
            for axis, k, s, p, d in zip(in_rfs[0], self.kernel_size, self.stride, self.padding, self.dilation)
        )

    def formulas(self, in_rfs: Sequence[RF]) -> list[Formula]:
        nd = self.ndim or 0
        lines = []
        for i, n in enumerate(self.spatial_in):
            k, st, d, p, op = (self.kernel_size[i], self.stride[i], self.dilation[i], self.padding[i],
                               self.output_padding[i])
            lines.append(Formula(f"output size ({axis_label(nd, i)})",
                                 "(n - 1)*s - 2*p + d*(k-1) + output_padding + 1",
                                 f"({n} - 1)*{st} - 2*{p} + {d}*({k}-1) + {op} + 1", self.out_size(i, n)))
        for i, axis in enumerate(in_rfs[0] if in_rfs else ()):
            lines += axis.transposed_window_formulas(axis_label(nd, i), self.kernel_size[i], self.stride[i],
                                                     self.padding[i], self.dilation[i])
        return lines + self._count_formulas()

    def ambiguity(self) -> dict[str, Any] | None:
        choices = []
        for i, n in enumerate(self.spatial_in):
            choices.append({
                "output_padding": list(self.valid_output_paddings(i)),
                "output_sizes": [self.out_size(i, n, op) for op in self.valid_output_paddings(i)],
            })
        if all(len(c["output_padding"]) == 1 for c in choices):
            return None
        return {"output_padding_choices": choices}

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        cls = getattr(nn, self.type_name)
        return cls(
            self.in_channels, self.out_channels, tuple(self.kernel_size), stride=tuple(self.stride),
            padding=tuple(self.padding), output_padding=tuple(self.output_padding), groups=self.groups,
            bias=self.bias, dilation=tuple(self.dilation), padding_mode=self.padding_mode,
        )


for _n in (1, 2, 3):
    register(type(f"Conv{_n}d", (_ConvNd,), {
        "type_name": f"Conv{_n}d", "ndim": _n, "args": _conv_args(False),
        "summary": f"{_n}D convolution (torch.nn.Conv{_n}d)",
    }))
    register(type(f"ConvTranspose{_n}d", (_ConvTransposeNd,), {
        "type_name": f"ConvTranspose{_n}d", "ndim": _n, "args": _conv_args(True),
        "summary": f"{_n}D transposed convolution (torch.nn.ConvTranspose{_n}d)",
    }))
