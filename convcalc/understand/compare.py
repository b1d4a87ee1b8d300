"""`convcalc compare`: a conv against its cheaper counterparts, or whole networks side by side.

Each counterpart is written as ordinary spec layers and analysed like any spec, so its params, MACs,
receptive field and output shape come from the layer classes, never from a formula here. The theory
lines (e.g. depthwise separable MACs ~ 1/C_out + 1/k^2 of the original) are printed next to the
measured ratio, not used to compute it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

from convcalc.analysis.core import Analysis, analyze
from convcalc.errors import LayerError
from convcalc.layers.base import Layer, Shape, fmt_shape
from convcalc.understand.layerexpr import layer_expression
from convcalc.understand.textout import dims_text, ratio_text, text_table

VARIANTS = ("grouped", "depthwise", "spatial")


@dataclass(frozen=True)
class Side:
    """One column of a comparison: a named network (one layer or many) analysed on its input."""

    label: str
    layers: tuple[str, ...]  # the layers as expressions (counterparts) or the spec's name
    analysis: Analysis
    theory: str = ""
    note: str = ""

    @property
    def params(self) -> int:
        return self.analysis.totals["params"]

    @property
    def macs(self) -> int:
        return self.analysis.totals["macs"]

    @property
    def flops(self) -> int:
        return self.analysis.totals["flops"]

    @property
    def output_shape(self) -> Shape:
        return self.analysis.output_shape

    @property
    def rf(self) -> list[Any]:
        """The receptive field of the last layer with a spatial map larger than 1 (a classifier's is global)."""
        nd = len(self.analysis.input_shape) - 2
        for report in reversed(self.analysis.layers):
            shape = report.output_shape
            if len(shape) == nd + 2 and math.prod(shape[2:]) > 1:
                return report.receptive_field.size
        return self.analysis.layers[-1].receptive_field.size

    def to_dict(self, reference: "Side") -> dict[str, Any]:
        return {
            "label": self.label, "layers": list(self.layers), "input_shape": list(self.analysis.input_shape),
            "output_shape": list(self.output_shape), "params": self.params, "macs": self.macs, "flops": self.flops,
            "receptive_field": self.rf, "layer_count": len(self.analysis.layers),
            "params_ratio": self.params / reference.params if reference.params else None,
            "macs_ratio": self.macs / reference.macs if reference.macs else None,
            "theory": self.theory or None, "note": self.note or None,
        }


@dataclass(frozen=True)
class Comparison:
    sides: tuple[Side, ...]
    skipped: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        ref = self.sides[0]
        return {"sides": [s.to_dict(ref) for s in self.sides], "skipped": list(self.skipped)}

    def lines(self) -> list[str]:
        ref = self.sides[0]
        headers = ["", "params", "MACs", "RF", "output", "params x", "MACs x"]
        rows = [[s.label, f"{s.params:,}", f"{s.macs:,}", dims_text(s.rf), fmt_shape(s.output_shape),
                 ratio_text(s.params, ref.params), ratio_text(s.macs, ref.macs)] for s in self.sides]
        out = text_table(headers, rows, right=(1, 2, 3, 5, 6))
        out.append("(RF: receptive field of the last map larger than 1x1; x: ratio to the first row)")
        out.append("")
        for s in self.sides:
            out.append(f"{s.label}: {' -> '.join(s.layers)}")
            if s.theory:
                out.append(f"  {s.theory}")
            if s.note:
                out.append(f"  {s.note}")
        for reason in self.skipped:
            out.append(f"(skipped: {reason})")
        return out


def _spec(layers: Sequence[dict[str, Any]], in_shape: Shape, name: str) -> dict[str, Any]:
    return {"name": name, "input": list(in_shape), "layers": [dict(layer) for layer in layers]}


def _side(label: str, layers: list[dict[str, Any]], in_shape: Shape, theory: str = "", note: str = "") -> Side:
    analysis = analyze(_spec(layers, in_shape, label))
    return Side(label, tuple(layer_expression(r.layer) for r in analysis.layers), analysis, theory, note)


def _conv_args(layer: Layer) -> dict[str, Any]:
    args = {k: v for k, v in layer.resolved_args().items() if v is not None}
    args.pop("in_channels", None)
    return args


def _is_forward_conv(layer: Layer) -> bool:
    return ("out_channels" in layer.values and layer.values.get("kernel_size") is not None
            and not callable(getattr(layer, "valid_output_paddings", None)))


def default_groups(c_in: int, c_out: int) -> int | None:
    common = math.gcd(c_in, c_out)
    for g in (8, 4, 2):
        if common % g == 0:
            return g
    return None


def _frac(value: Fraction) -> str:
    return f"{float(value):.4f}"


def counterparts(layer: Layer, which: Sequence[str] = VARIANTS, groups: int | None = None) -> Comparison:
    """The conv and its grouped / depthwise-separable / spatially separable counterparts, on its input."""
    if not _is_forward_conv(layer):
        raise LayerError(f"counterparts are defined for convolutions (Conv1d/2d/3d), not {layer.type_name}",
                         hint="compare two specs or --archs side by side instead", arg="type")
    nd = layer.ndim or 0
    in_shape = layer.in_shape
    c_in, c_out = layer.in_channels, layer.out_channels
    g0 = layer.groups
    args = _conv_args(layer)
    kernel = tuple(layer.kernel_size)
    k_total = math.prod(kernel)
    conv_type = layer.type_name
    sides = [_side("original", [dict(args, type=conv_type)], in_shape)]
    skipped = []
    for variant in which:
        if variant == "grouped":
            g = groups if groups is not None else default_groups(c_in, c_out)
            if g is None or g == g0:
                skipped.append(f"grouped: in_channels {c_in} and out_channels {c_out} have no common divisor "
                               f"to group by" if g is None else f"grouped: the layer already has groups={g}")
                continue
            if c_in % g or c_out % g:
                raise LayerError(f"--groups {g} must divide in_channels ({c_in}) and out_channels ({c_out})",
                                 arg="groups")
            theory = f"theory: params and MACs x {g0}/{g} (each output sees in_channels/groups inputs) = " \
                     f"{_frac(Fraction(g0, g))}"
            sides.append(_side(f"grouped (groups={g})", [dict(args, type=conv_type, groups=g)], in_shape, theory))
        elif variant == "depthwise":
            depthwise = dict(args, type=conv_type, out_channels=c_in, groups=c_in, bias=False)
            pointwise = {"type": conv_type, "out_channels": c_out, "kernel_size": 1, "bias": args.get("bias", True)}
            ideal = Fraction(1, c_out) + Fraction(1, k_total)
            kernel_text = "*".join(map(str, kernel))
            theory = (f"theory (MACs, groups=1 original): 1/C_out + 1/({kernel_text}) = 1/{c_out} + "
                      f"1/{k_total} = {_frac(ideal)}")
            if g0 != 1:
                theory += f" (the original has groups={g0}, so the measured ratio differs)"
            sides.append(_side("depthwise separable", [depthwise, pointwise], in_shape, theory,
                               "depthwise conv without bias (a BatchNorm usually follows), then a 1x1 pointwise conv"))
        elif variant == "spatial":
            axes = [i for i, k in enumerate(kernel) if k > 1]
            if nd < 2 or len(axes) < 2:
                skipped.append("spatially separable: needs a kernel larger than 1 in at least two dims")
                continue
            parts = []
            for step, axis in enumerate(axes):
                part = dict(args, type=conv_type)
                part["kernel_size"] = [kernel[i] if i == axis else 1 for i in range(nd)]
                part["stride"] = [layer.stride[i] if i == axis else 1 for i in range(nd)]
                part["dilation"] = [layer.dilation[i] if i == axis else 1 for i in range(nd)]
                if not isinstance(args.get("padding"), str):
                    part["padding"] = [layer.padding[i] if i == axis else 0 for i in range(nd)]
                if step < len(axes) - 1:
                    # the narrower channel count in between keeps the factorised pair cheap
                    part["out_channels"] = min(c_in, c_out)
                    part["bias"] = False
                parts.append(part)
            theory = (f"theory (MACs, C_in = C_out, stride 1): ({' + '.join(str(kernel[i]) for i in axes)})/"
                      f"({'*'.join(str(kernel[i]) for i in axes)}) = "
                      f"{_frac(Fraction(sum(kernel[i] for i in axes), math.prod(kernel[i] for i in axes)))}")
            sides.append(_side("spatially separable", parts, in_shape, theory,
                               f"{min(c_in, c_out)} channels in between; the same function only for kernels of "
                               "rank 1 (see --kernel), otherwise an approximation"))
        else:  # pragma: no cover - the CLI restricts the choices
            raise LayerError(f"unknown counterpart {variant!r}", arg="to")
    return Comparison(tuple(sides), tuple(skipped))


def side_by_side(named: Sequence[tuple[str, Analysis]]) -> Comparison:
    """Whole networks (specs, --archs, or groups of layer expressions) side by side."""
    sides = []
    for label, analysis in named:
        layers = (tuple(layer_expression(r.layer) for r in analysis.layers) if len(analysis.layers) <= 4
                  else (f"{len(analysis.layers)} layers, input {fmt_shape(analysis.input_shape)}",))
        sides.append(Side(label, layers, analysis))
    return Comparison(tuple(sides))


