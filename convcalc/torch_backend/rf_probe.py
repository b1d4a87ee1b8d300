"""Measure receptive fields by back-propagating from one output position to the input.

The probe turns a copy of the network into one whose input-output dependence is visible in gradients:
weights positive, biases zero, normalisation statistics neutral, max-pooling replaced by averaging over
the same windows (a max routes its gradient to one element only), and pointwise activations replaced by
identity (their flat regions, ReLU's negatives, Hardtanh's clamp or Hardshrink's dead zone, would zero
gradients that the structure carries). The gradient of one output position is then nonzero exactly on
the input positions it depends on, and the extent of that set along each axis is the field's size.

Weights are positive values drawn from a seeded generator in a narrow band rather than one constant:
with a constant every channel of a layer is identical, and layers that normalise across channels
(softmax over C, GroupNorm, LayerNorm) then cancel the gradient exactly.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from convcalc.layers.base import axis_dims

if TYPE_CHECKING:  # pragma: no cover
    from convcalc.analysis.core import Analysis, LayerReport
    from convcalc.torch_backend.builder import ConvcalcNet

# Each weight row sums to this, so activations shrink layer by layer instead of growing (a positive
# network stays positive, and no activation reaches a clamp); float64 keeps even 100 layers far from
# underflow.
ROW_SUM = 0.5


class WindowMean(nn.Module):
    """Mean over max-pooling's windows (kernel, stride, padding, dilation, ceil_mode), zeros as padding."""

    def __init__(self, pool: nn.Module, ndim: int) -> None:
        super().__init__()
        self.ndim = ndim
        self.kernel = _tuple(pool.kernel_size, ndim)
        self.stride = _tuple(pool.stride if pool.stride is not None else pool.kernel_size, ndim)
        self.padding = _tuple(pool.padding, ndim)
        self.dilation = _tuple(getattr(pool, "dilation", 1), ndim)
        self.reference = pool  # its output size (ceil_mode rules) is the one to reproduce

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.reference(x.detach()).shape[-self.ndim:]
        pads: list[int] = []
        for axis in reversed(range(self.ndim)):
            n = x.shape[-self.ndim + axis]
            span = self.dilation[axis] * (self.kernel[axis] - 1) + 1
            needed = (target[axis] - 1) * self.stride[axis] + span - n - self.padding[axis]
            right = max(self.padding[axis], needed)
            pads += [self.padding[axis], right]
        y = F.pad(x, pads)
        lead = y.dim() - self.ndim
        for axis in range(self.ndim):
            span = self.dilation[axis] * (self.kernel[axis] - 1) + 1
            y = y.unfold(lead + axis, span, self.stride[axis])
            y = y.narrow(lead + axis, 0, target[axis])
            # unfold appends the window as the last dim; keep only the dilated taps
            y = y[..., :: self.dilation[axis]]
        return y.mean(dim=tuple(range(-self.ndim, 0)))


def _tuple(value: Any, ndim: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value) if len(value) == ndim else (int(value[0]),) * ndim
    return (int(value),) * ndim


def _pool_ndim(module: nn.Module) -> int:
    return int(type(module).__name__[-2]) if type(module).__name__[-2].isdigit() else 2


def _pointwise_activation(module: nn.Module) -> bool:
    # torch's activation modules that act on each element alone: those without a `dim` (softmax, GLU, ...).
    return type(module).__module__ == nn.modules.activation.__name__ and not hasattr(module, "dim") \
        and not isinstance(module, nn.MultiheadAttention)


def _replacement(module: nn.Module) -> nn.Module | None:
    if isinstance(module, nn.modules.pooling._MaxPoolNd):
        return WindowMean(module, _pool_ndim(module))
    if isinstance(module, nn.modules.pooling._AdaptiveMaxPoolNd):
        adaptive = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)[_pool_ndim(module) - 1]
        return adaptive(module.output_size)
    if _pointwise_activation(module):
        return nn.Identity()
    return None


def make_probe(net: ConvcalcNet, dtype: torch.dtype, seed: int) -> ConvcalcNet:
    probe = copy.deepcopy(net)
    for name, module in list(probe.named_modules()):
        for child_name, child in list(module.named_children()):
            new = _replacement(child)
            if new is not None:
                module._modules[child_name] = new
    probe.to(dtype=dtype)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in probe.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if "bias" in leaf:
                param.zero_()
                continue
            values = 0.5 + torch.rand(param.shape, generator=generator, dtype=torch.float64)
            if values.dim() >= 2:
                values = values / values.sum(dim=tuple(range(1, values.dim())), keepdim=True) * ROW_SUM
            param.copy_(values.to(param.dtype))
        for name, buffer in probe.named_buffers():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "running_mean":
                buffer.zero_()
            elif leaf == "running_var":
                buffer.fill_(1.0)
    return probe.eval()


GLOBAL = "global"


@dataclass
class ProbeResult:
    """One layer's measurement. Per axis: `analytic_size` is the field size, or "global" for an axis
    whose field is the whole input; `expected_size` is what the measured extent must then be (the size,
    or the input's extent); None in `measured_size` marks an axis that could not be measured."""

    layer: str
    analytic_size: list[Any]
    expected_size: list[Any] = field(default_factory=list)
    measured_size: list[Any] | None = None
    analytic_center: list[Any] | None = None
    measured_center: list[Any] | None = None
    position: list[int] | None = None
    skipped: str | None = None
    # Global axes whose measured field is narrower than the input: the analysis calls a field global
    # where no single window describes every output (adaptive pools with uneven windows, GLU along a
    # spatial dim), so such an axis proves nothing either way and is left out of the comparison.
    unproven: list[int] = field(default_factory=list)
    # Per probed output position: (position, per axis the exact analytic field (lo, hi), per axis the
    # measured extent of the nonzero gradient (first, last)); None for an axis not compared.
    fields: list[tuple[list[int], list[Any], list[Any]]] = field(default_factory=list)

    def _position_pairs(self) -> list[tuple[list[int], int, Any, Any]]:
        return [(position, axis, a, m) for position, analytic, measured in self.fields
                for axis, (a, m) in enumerate(zip(analytic, measured)) if a is not None]

    def first_wrong_field(self) -> str | None:
        """The first probed position whose measured field is not its exact analytic field."""
        for position, axis, a, m in self._position_pairs():
            if m is None or (Fraction(m[0]), Fraction(m[1])) != (a[0], a[1]):
                return (f"output {position} axis {axis}: field [{_num(a[0])}, {_num(a[1])}], measured "
                        + ("nothing" if m is None else f"[{m[0]}, {m[1]}]"))
        return None

    def _compared(self) -> list[tuple[Any, Any]]:
        assert self.measured_size is not None
        return [(e, m) for axis, (e, m) in enumerate(zip(self.expected_size, self.measured_size))
                if m is not None and axis not in self.unproven]

    @property
    def comparable(self) -> bool:
        return self.measured_size is not None and bool(self._compared())

    @property
    def size_ok(self) -> bool:
        """The widest field, and every probed position's field width, as the analysis says."""
        return (self.comparable and all(Fraction(m) == Fraction(e) for e, m in self._compared())
                and all(m is not None and m[1] - m[0] + 1 == a[1] - a[0] + 1
                        for _, _, a, m in self._position_pairs()))

    @property
    def center_ok(self) -> bool:
        """Every probed position's field centred where the analysis puts it."""
        return all(m is None or Fraction(m[0] + m[1], 2) == (a[0] + a[1]) / 2
                   for _, _, a, m in self._position_pairs())


def _num(value: Fraction | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value.denominator == 1 else float(value)


def select_layers(analysis: Analysis, which: str) -> list[LayerReport]:
    """Layers to probe: 'all', 'last' (the deepest with a local field), or 'changed' (default): the
    layers whose field differs from their inputs' (the ones that make a claim), plus the last local one.
    Layers that keep the field (activations, BatchNorm) are checked through the next layer that changes it."""
    from convcalc.spec.expand import NET_INPUT

    reports = list(analysis.layers)
    if which == "all":
        return reports
    local = [r for r in reports if all(a.jump is not None for a in r.receptive_field.axes)
             and r.receptive_field.axes]
    chosen: list[LayerReport] = []
    if which == "changed":
        fields = {NET_INPUT: None}
        fields.update({r.name: r.receptive_field.axes for r in reports})
        for report in reports:
            inputs = [fields.get(i) for i in report.inputs]
            if any(f != report.receptive_field.axes for f in inputs):
                chosen.append(report)
    if local and local[-1] not in chosen:
        chosen.append(local[-1])
    return chosen


def probe(net: ConvcalcNet, analysis: Analysis, device: torch.device, dtype: torch.dtype, seed: int,
          which: str = "changed") -> list[ProbeResult]:
    targets = select_layers(analysis, which)
    if not targets:
        return []
    model = make_probe(net, dtype, seed).to(device)
    generator = torch.Generator().manual_seed(seed)
    x = 0.5 + 0.5 * torch.rand(analysis.input_shape, generator=generator, dtype=torch.float64)
    x = x.to(device, dtype)
    x.requires_grad_(True)
    wanted = {r.name for r in targets}
    outputs: dict[str, Any] = {}
    handles = []
    for name, module in model.named_layers():
        if name in wanted:
            handles.append(module.register_forward_hook(
                lambda _m, _i, out, name=name: outputs.__setitem__(name, out)))
    try:
        with torch.enable_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    spatial_in = analysis.input_shape[2:]
    periods = _periods(analysis)
    return [_measure(report, outputs.get(report.name), x, spatial_in, periods[report.name], seed)
            for report in targets]


# Probing more positions than this per layer costs more backward passes than it is worth.
MAX_PERIOD = 16


def _periods(analysis: Analysis) -> dict[str, list[int]]:
    """Per layer and axis, how many neighbouring positions to probe besides an exact field's own period:
    a layer with a finer grid (smaller jump) than some layer before it sees fields whose width
    alternates with the ratio of the two grids.
    """
    from convcalc.spec.expand import NET_INPUT

    ndim = len(analysis.input_shape) - 2
    coarsest: dict[str, list[Fraction]] = {NET_INPUT: [Fraction(1)] * ndim}
    periods: dict[str, list[int]] = {}
    for report in analysis.layers:
        axes = report.receptive_field.axes
        widest = [max((coarsest[i][a] for i in report.inputs if i in coarsest), default=Fraction(1))
                  for a in range(ndim)]
        own = [a.jump if a.jump is not None else None for a in axes] if len(axes) == ndim else [None] * ndim
        coarsest[report.name] = [max(w, j) if j is not None else w for w, j in zip(widest, own)]
        periods[report.name] = [min(MAX_PERIOD, -(-w // j)) if j else 1 for w, j in zip(widest, own)]
    return periods


def _plan(rf: Any, n_in: int, n_out: int, period: int) -> list[int]:
    """Output positions to probe along one local axis: one per residue of `period` (up to MAX_PERIOD),
    starting at the most central position whose field lies inside the input, and always one with the
    widest field; an empty list when no field lies inside the input."""
    inside = []
    for o in range(n_out):
        span = rf.field(o)
        if span is not None and span[0] >= 0 and span[1] <= n_in - 1:
            inside.append(o)
    if not inside:
        return []
    centre = (n_out - 1) / 2
    first = min(inside, key=lambda o: (abs(o - centre), o))
    nearest = sorted(inside, key=lambda o: (abs(o - first), o))
    chosen: list[int] = []
    residues: set[int] = set()
    for o in nearest:  # one position per residue of the period, nearest to the first
        if o % period not in residues and len(chosen) < MAX_PERIOD:
            residues.add(o % period)
            chosen.append(o)
    width = max(_width(rf.field(o)) for o in inside)
    if all(_width(rf.field(o)) < width for o in chosen):
        chosen[-1] = next(o for o in nearest if _width(rf.field(o)) == width)
    return chosen


def _width(span: tuple[Fraction, Fraction] | None) -> Fraction:
    return Fraction(0) if span is None else span[1] - span[0] + 1


def _measure(report: LayerReport, out: Any, x: torch.Tensor, spatial_in: Sequence[int],
             periods: Sequence[int], seed: int) -> ProbeResult:
    axes = report.receptive_field.axes
    result = ProbeResult(report.name,
                         analytic_size=[GLOBAL if a.jump is None else _num(a.size) for a in axes])
    ndim = len(axes)
    if not axes:
        result.skipped = "the input has no spatial axes"
        return result
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        result.skipped = "the layer's output does not depend differentiably on the input"
        return result
    # the output dim of each axis: the trailing dims, or where a Permute, Reshape or reduction put it
    out_dims = axis_dims(axes, out.dim())
    lost = any(d is None and not a.is_global for a, d in zip(axes, out_dims))
    if lost or (out.dim() != ndim + 2 and all(a.is_global for a in axes)):
        result.skipped = f"its output {list(out.shape)} has no {ndim} spatial axes to probe"
        return result
    out_spatial = [1 if d is None else out.shape[d] for d in out_dims]
    # Per axis, the output indices to probe: for a local field, positions whose exact field lies inside
    # the input (one per residue of its period); for a global one, the central index.
    plans: list[list[int] | None] = []
    reasons: list[str] = []
    for axis, (rf, n_in, n_out) in enumerate(zip(axes, spatial_in, out_spatial)):
        if rf.jump is None:
            plans.append([(n_out - 1) // 2])
            result.expected_size.append(n_in)
            continue
        # the analysis's own period, and also the grid ratio, so that a wrong claim of one field for
        # all outputs is probed at several positions too
        grid = periods[axis] if axis < len(periods) else 1
        period = min(rf.period * grid // math.gcd(rf.period, grid), 4 * MAX_PERIOD) if rf.exact else grid
        run = _plan(rf, n_in, n_out, period)
        if not run:
            plans.append(None)
            result.expected_size.append(_num(rf.size))
            reasons.append(f"axis {axis}: the field ({_num(rf.size)}) is larger than the input ({n_in})"
                           if rf.size > n_in else
                           f"axis {axis}: no output position has its field inside the input")
            continue
        # exact: the widest field among the probed positions (rf.size, unless no widest one lies
        # inside); an approximation only claims the widest field, no position's own
        result.expected_size.append(_num(max(_width(rf.field(o)) for o in run) if rf.exact else rf.size))
        plans.append(run)
    if all(p is None for p in plans):
        result.skipped = "; ".join(reasons)
        return result
    # Each probed output: sample 0, the positions along the axes' dims, and a random positive mix over
    # every other dim (the channels): a plain sum can be constant (softmax over C sums to 1).
    owner: dict[int, int] = {}
    for axis, d in enumerate(out_dims):  # a local axis has its dim; a stale global one yields to it
        if d is not None and (d not in owner or axes[owner[d]].is_global):
            owner[d] = axis

    def where(position: Sequence[int]) -> tuple[Any, ...]:
        index: list[Any] = [slice(None)] * out.dim()
        for d, axis in owner.items():
            index[d] = position[axis]
        if 0 not in owner:
            index[0] = 0
        return tuple(index)

    generator = torch.Generator().manual_seed(seed)
    centre = [(n - 1) // 2 for n in out_spatial]
    mix = (0.5 + torch.rand(out[where(centre)].shape, generator=generator, dtype=torch.float64)).to(
        out.device, out.dtype)
    steps = max(len(p) for p in plans if p is not None)
    extents: list[int | None] = [None] * ndim
    for step in range(steps):
        position = [(p[step % len(p)] if p is not None else (n - 1) // 2) for p, n in zip(plans, out_spatial)]
        target = (out[where(position)] * mix).sum()
        (grad,) = torch.autograd.grad(target, x, retain_graph=True)
        support = grad[0].detach().abs().sum(dim=0) != 0
        analytic: list[Any] = [None] * ndim
        measured: list[Any] = [None] * ndim
        for axis in range(ndim):
            if plans[axis] is None:
                continue
            others = tuple(d for d in range(ndim) if d != axis)
            line = support.any(dim=others) if others else support
            hits = torch.nonzero(line).flatten().tolist()
            extent = hits[-1] - hits[0] + 1 if hits else 0
            extents[axis] = max(extents[axis] or 0, extent)
            if axes[axis].jump is not None and axes[axis].exact:
                analytic[axis] = axes[axis].field(position[axis])
                measured[axis] = (hits[0], hits[-1]) if hits else None
        result.fields.append((position, analytic, measured))
        if step == 0:
            result.position = position
    result.measured_size = list(extents)
    for axis, rf in enumerate(axes):
        if rf.jump is None and extents[axis] is not None and extents[axis] != spatial_in[axis]:
            result.unproven.append(axis)
            reasons.append(f"axis {axis}: global in the analysis (no single window fits every output), "
                           f"one output sees {extents[axis]} of {spatial_in[axis]}")
    _, analytic, measured = result.fields[0]
    if any(a is not None for a in analytic):
        result.analytic_center = [None if a is None else _num((a[0] + a[1]) / 2) for a in analytic]
        result.measured_center = [None if m is None or a is None else _num(Fraction(m[0] + m[1], 2))
                                  for a, m in zip(analytic, measured)]
    if reasons:
        result.skipped = "; ".join(reasons)
    return result
