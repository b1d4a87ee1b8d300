"""How much memory a validation run needs, from the analysis alone (nothing allocated to find out).

The graph module frees every activation after its last use, so a no-grad forward pass holds the
parameters, the buffers and, at its worst moment, the activations still waiting for a consumer plus the
one being produced. The receptive-field probe keeps every activation for its backward passes, in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from convcalc.torch_backend.devices import DTYPE_BYTES, MemoryRefused, human_bytes

if TYPE_CHECKING:  # pragma: no cover
    from convcalc.analysis.core import Analysis

# Kernels take scratch space (im2col, workspaces) that the graph cannot see; leave room for it.
HEADROOM = 1.25


@dataclass(frozen=True)
class MemoryEstimate:
    params_bytes: int
    activation_bytes: int
    probe_bytes: int = 0  # the receptive-field probe's retained float64 activations and gradients

    @property
    def total(self) -> int:
        return int((self.params_bytes + max(self.activation_bytes, self.probe_bytes)) * HEADROOM)

    def describe(self) -> str:
        parts = [f"parameters {human_bytes(self.params_bytes)}",
                 f"activations {human_bytes(self.activation_bytes)}"]
        if self.probe_bytes:
            parts.append(f"receptive-field probe {human_bytes(self.probe_bytes)}")
        return f"{human_bytes(self.total)} ({', '.join(parts)}, +{round((HEADROOM - 1) * 100)}% headroom)"

    def to_dict(self) -> dict[str, int]:
        return {"params_bytes": self.params_bytes, "activation_bytes": self.activation_bytes,
                "probe_bytes": self.probe_bytes, "total_bytes": self.total}


def peak_live_elements(analysis: Analysis) -> int:
    """Most activation elements alive at once when each output is dropped after its last consumer."""
    from convcalc.spec.expand import NET_INPUT

    sizes = {NET_INPUT: math.prod(analysis.input_shape)}
    last_use: dict[str, int] = {}
    for index, report in enumerate(analysis.layers):
        sizes[report.name] = math.prod(report.output_shape)
        for name in report.inputs:
            last_use[name] = index
    final = analysis.layers[-1].name
    live = {NET_INPUT: sizes[NET_INPUT]}
    peak = sum(live.values())
    for index, report in enumerate(analysis.layers):
        live[report.name] = sizes[report.name]
        peak = max(peak, sum(live.values()))
        for name in set(report.inputs):
            if last_use.get(name) == index and name != final:
                live.pop(name, None)
        if last_use.get(report.name) is None and report.name != final:
            live.pop(report.name, None)
    return peak


def estimate(analysis: Analysis, dtype: str, *, rf_probe: bool = False,
             probe_dtype_bytes: int = 8) -> MemoryEstimate:
    size = DTYPE_BYTES[dtype]
    weights = sum(r.params + r.buffers for r in analysis.layers)
    activations = peak_live_elements(analysis) * size
    probe = 0
    if rf_probe:
        # Every activation kept for backward, plus the input gradient and one layer's gradient at a time.
        kept = math.prod(analysis.input_shape) + sum(math.prod(r.output_shape) for r in analysis.layers)
        widest = max(math.prod(r.output_shape) for r in analysis.layers)
        probe = (kept + math.prod(analysis.input_shape) + 2 * widest) * probe_dtype_bytes \
            + weights * (probe_dtype_bytes - size)
    return MemoryEstimate(params_bytes=weights * size, activation_bytes=activations, probe_bytes=probe)


def ensure_fits(need: MemoryEstimate, available: int | None, device_label: str, dtype: str) -> None:
    """Raise MemoryRefused when the estimate exceeds what `device_label` has free."""
    if available is None or need.total <= available:
        return
    raise MemoryRefused(
        f"refusing to run on {device_label}: the forward pass in {dtype} needs about {need.describe()}, "
        f"but only {human_bytes(available)} is available",
        hint="use --device meta to check shapes without allocating, a smaller input or batch, "
        "a smaller dtype, or --force to run anyway",
        needed=need.total, available=available,
    )
