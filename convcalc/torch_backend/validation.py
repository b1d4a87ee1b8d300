"""Prove an analysis by running it: build the network, run it, and compare every number, layer by layer.

One no-grad forward pass in eval mode, under FlopCounterMode, with hooks that record each layer's output
shape, gives shapes and torch FLOPs; parameters and buffers are counted on the built modules; fvcore's
FlopCountAnalysis traces the network once more (only when asked and installed); the receptive-field
probe (opt-in) back-propagates through a float64 copy. The report's `to_dict()` is what
`convcalc validate --format json` prints.

Importing this module does not import torch; `validate()` does.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from convcalc.analysis.core import Analysis, analyze
from convcalc.torch_backend.devices import (
    DTYPE_BYTES,
    DeviceError,
    RunError,
    canonical_dtype,
    check_device_name,
    human_bytes,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from convcalc.torch_backend.builder import ConvcalcNet

OK, MISMATCH, KNOWN, SKIPPED, FAILED, ERROR = "ok", "mismatch", "known", "skipped", "failed", "error"
STATUSES = (OK, MISMATCH, KNOWN, SKIPPED, FAILED, ERROR)
# What makes a report fail: a measurement that disagrees, an expectation not met, a layer torch cannot run.
FAILING = (MISMATCH, FAILED, ERROR)
RF_LAYER_CHOICES = ("changed", "last", "all")


@dataclass
class Check:
    """One comparison. `layer` None means the whole network."""

    layer: str | None
    check: str
    analytic: Any
    measured: Any = None
    status: str = OK
    note: str | None = None
    expected: Any = None  # expectations only: the value the spec expects (analytic is what it gets)
    location: str | None = None

    @property
    def failing(self) -> bool:
        return self.status in FAILING

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"layer": self.layer, "check": self.check, "analytic": self.analytic,
                                "measured": self.measured, "status": self.status}
        if self.expected is not None or self.check.startswith("expect."):
            data["expected"] = self.expected
        if self.note:
            data["note"] = self.note
        if self.location:
            data["location"] = self.location
        return data

    def describe(self) -> str:
        """One readable line for a failing check (the CLI's diff)."""
        who = f"layer '{self.layer}'" if self.layer else "network"
        where = f"{self.location}: " if self.location else ""
        if self.check.startswith("expect."):
            key = self.check.removeprefix("expect.")
            return (f"{where}{who}: expected {key} {_fmt(self.expected)}, "
                    f"the analysis gives {_fmt(self.analytic)}" + _delta(self.expected, self.analytic))
        if self.check in ("build", "forward") or (self.check.startswith("against.") and self.note):
            return f"{where}{who}: {self.note}"
        text = f"{who}: {self.check}: analytic {_fmt(self.analytic)}, measured {_fmt(self.measured)}" \
            + _delta(self.analytic, self.measured)
        return text + (f" ({self.note})" if self.note else "")


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join("-" if v is None else str(v) for v in value) + "]"
    return str(value)


def _delta(reference: Any, other: Any) -> str:
    """How `other` differs from `reference`: a signed difference, or which entries of a list differ."""
    if isinstance(reference, int) and isinstance(other, int) and not isinstance(reference, bool):
        diff = other - reference
        pct = f", {diff / reference:+.1%}" if reference else ""
        return f"  (difference {diff:+,}{pct})"
    if isinstance(reference, (list, tuple)) and isinstance(other, (list, tuple)):
        if len(reference) != len(other):
            return f"  ({len(reference)} vs {len(other)} dims)"
        dims = [f"dim {i}: {a} -> {b}" for i, (a, b) in enumerate(zip(reference, other))
                if a != b and b is not None]
        return f"  ({'; '.join(dims)})" if dims else ""
    return ""


@dataclass
class ValidationReport:
    name: str
    source: str | None
    device: str
    dtype: str
    seed: int
    input_shape: list[int]
    output_shape: list[int]
    checks: list[Check] = field(default_factory=list)
    time_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    memory: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not any(c.failing for c in self.checks)

    @property
    def counts(self) -> dict[str, int]:
        return {status: sum(1 for c in self.checks if c.status == status) for status in STATUSES}

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failing]

    def verdict(self) -> str:
        counts = self.counts
        compared = counts[OK] + counts[MISMATCH] + counts[KNOWN] + counts[ERROR]
        extras = []
        if counts[KNOWN]:
            extras.append(f"{counts[KNOWN]} known difference{'s' * (counts[KNOWN] != 1)}")
        if counts[SKIPPED]:
            extras.append(f"{counts[SKIPPED]} skipped")
        tail = f" ({', '.join(extras)})" if extras else ""
        met = sum(1 for c in self.checks if c.check.startswith("expect.") and c.status == OK)
        if self.ok:
            return f"OK: all {compared} measurements agree with the analysis{tail}" + (
                f"; {met} expectation{'s' * (met != 1)} met" if met else "")
        problems = []
        if counts[MISMATCH]:
            problems.append(f"{counts[MISMATCH]} mismatch{'es' * (counts[MISMATCH] != 1)}")
        if counts[ERROR]:
            layers = "layer" + "s" * (counts[ERROR] != 1)
            problems.append(f"{counts[ERROR]} {layers} PyTorch could not build or run")
        if counts[FAILED]:
            problems.append(f"{counts[FAILED]} failed expectation{'s' * (counts[FAILED] != 1)}")
        return f"FAILED: {', '.join(problems)} out of {len(self.checks)} checks{tail}"

    def diff(self) -> list[str]:
        return [c.describe() for c in self.failures]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "ok": self.ok,
            "verdict": self.verdict(),
            "device": self.device,
            "dtype": self.dtype,
            "seed": self.seed,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "versions": dict(self.versions),
            "time_s": round(self.time_s, 4),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "memory": self.memory,
            "counts": self.counts,
            "checks": [c.to_dict() for c in self.checks],
            "diff": self.diff(),
        }


# --------------------------------------------------------------------------------------------------


def validate(spec: Any, device: str = "cpu", dtype: str = "float32", seed: int = 0, rf: bool = False,
             flops: bool = True, *, fvcore: bool = True, force: bool = False,
             input_shape: Sequence[int] | None = None, params: Mapping[str, Any] | None = None,
             rf_layers: str = "changed", max_memory: int | None = None, against: Any = None) -> ValidationReport:
    """Analyse `spec`, run it in PyTorch on `device`, and compare everything; see ValidationReport.

    against: the PyTorch code the spec must equal (a target 'package.module:callable' or an nn.Module);
    by default the spec's own `against:`. Its weights are loaded into the spec and the outputs compared
    (on the CPU when `device` is meta); see convcalc.torch_backend.against.

    flops: compare torch_flops with FlopCounterMode and (with `fvcore`) fvcore_flops with fvcore.
    rf: measure receptive fields by gradients (`rf_layers`: 'changed', 'last' or 'all').
    max_memory: bytes the run may use, instead of what the device reports free.
    Raises SpecError for an invalid spec, DeviceError / MemoryRefused (RunError) when the run cannot start.
    """
    started = time.perf_counter()
    device_name = check_device_name(device)
    dtype_name = canonical_dtype(dtype)
    if rf_layers not in RF_LAYER_CHOICES:
        raise DeviceError(f"unknown rf_layers '{rf_layers}'",
                          hint=f"use one of {', '.join(RF_LAYER_CHOICES)}")
    analysis = spec if isinstance(spec, Analysis) else analyze(spec, input_shape, params)
    after_analysis = time.perf_counter()
    import torch  # noqa: F401  (timed on its own: the fixed cost every PyTorch run pays)

    after_import = time.perf_counter()
    runner = _Run(analysis, device_name, dtype_name, seed, force=force, max_memory=max_memory)
    if not isinstance(spec, Analysis):
        runner.timings["analysis"] = after_analysis - started
    runner.timings["import torch"] = after_import - after_analysis
    runner.run(flops=flops, fvcore=fvcore, rf=rf, rf_layers=rf_layers)
    target = against if against is not None else analysis.spec.against
    if target is not None:
        runner.against(target)
    report = runner.report()
    report.time_s = time.perf_counter() - started
    return report


class _Run:
    def __init__(self, analysis: Analysis, device: str, dtype: str, seed: int, *, force: bool,
                 max_memory: int | None) -> None:
        import torch

        from convcalc.torch_backend.devices import check_dtype_on_device, resolve_device, torch_dtype

        self.torch = torch
        self.analysis = analysis
        self.device = resolve_device(device)
        self.dtype_name = dtype
        self.dtype = torch_dtype(dtype)
        check_dtype_on_device(dtype, self.device)
        self.seed = seed
        self.force = force
        self.max_memory = max_memory
        self.timings: dict[str, float] = {}
        self.by_layer: dict[str, list[Check]] = {r.name: [] for r in analysis.layers}
        self.network: list[Check] = []
        self.memory: dict[str, Any] | None = None
        self.versions: dict[str, str | None] = {"torch": torch.__version__, "fvcore": None}
        self.net: ConvcalcNet | None = None
        self.x: torch.Tensor | None = None
        self.shapes: dict[str, list[int] | None] = {}
        self.piece_shapes: dict[str, list[list[int]]] = {}  # every output of a multi-output layer

    # -- helpers -------------------------------------------------------------------------------------
    def add(self, check: Check) -> None:
        self._bucket(check.layer).append(check)

    def _bucket(self, layer: str | None) -> list[Check]:
        # A composite's or a block's name stands for its last layer (spec aliases).
        aliases = self.analysis.spec.aliases if self.analysis.spec is not None else {}
        seen = set()
        while layer is not None and layer not in self.by_layer and layer in aliases and layer not in seen:
            seen.add(layer)
            layer = aliases[layer]
        if layer is not None and layer not in self.by_layer:
            # a composite's name: its parts are called name.part; file it under the last part
            parts = [name for name in self.by_layer if name.startswith(layer + ".")]
            layer = parts[-1] if parts else None
        if layer is None:
            return self.network
        return self.by_layer[layer]

    def compare(self, layer: str | None, what: str, analytic: Any, measured: Any,
                note: str | None = None) -> Check:
        check = Check(layer, what, analytic, measured, OK if analytic == measured else MISMATCH, note)
        self.add(check)
        return check

    @property
    def label(self) -> str:
        return str(self.device)

    # -- the run -------------------------------------------------------------------------------------
    def run(self, *, flops: bool, fvcore: bool, rf: bool, rf_layers: str) -> None:
        self._expectations()
        if self.device.type != "meta":
            self._memory_gate(rf)
        tick = time.perf_counter()
        if not self._build():
            return
        self.timings["build"] = time.perf_counter() - tick
        tick = time.perf_counter()
        counts = self._forward(flops)
        self.timings["forward"] = time.perf_counter() - tick
        if counts is None:
            return
        self._static_checks()
        if flops:
            self._torch_flops(*counts)
            if fvcore:
                tick = time.perf_counter()
                self._fvcore()
                self.timings["fvcore"] = time.perf_counter() - tick
        if rf:
            tick = time.perf_counter()
            self._receptive_fields(rf_layers)
            self.timings["rf"] = time.perf_counter() - tick

    def _expectations(self) -> None:
        for result in self.analysis.expectations:
            where = str(result.location) if result.location else None
            self.add(Check(result.layer, f"expect.{result.key}", result.actual, None,
                           OK if result.ok else FAILED, expected=result.expected, location=where))

    def _memory_gate(self, rf: bool) -> None:
        from convcalc.torch_backend.devices import available_memory
        from convcalc.torch_backend.memory import ensure_fits, estimate

        need = estimate(self.analysis, self.dtype_name, rf_probe=rf,
                        probe_dtype_bytes=4 if self.device.type == "mps" else 8)
        available = self.max_memory if self.max_memory is not None else available_memory(self.device)
        self.memory = {**need.to_dict(), "available_bytes": available, "forced": self.force}
        if not self.force:
            ensure_fits(need, available, self.label, self.dtype_name)

    def _build(self) -> bool:
        from convcalc.torch_backend.builder import BuildError, build_network

        torch = self.torch
        torch.manual_seed(self.seed)
        try:
            self.net = build_network(self.analysis, self.device, self.dtype).eval()
        except BuildError as exc:
            self.add(Check(exc.layer, "build", None, None, ERROR, note=exc.message, location=exc.location))
            return False
        return True

    def _forward(self, flops: bool) -> tuple[dict[str, int], int] | None:
        torch = self.torch
        net = self.net
        assert net is not None
        current: list[str] = []
        handles = []
        for name, module in net.named_layers():
            handles.append(module.register_forward_pre_hook(lambda _m, _i, name=name: current.append(name)))
            handles.append(module.register_forward_hook(lambda _m, _i, out, name=name: self._record(name, out)))
        torch.manual_seed(self.seed)
        if self.device.type == "meta":
            self.x = torch.empty(self.analysis.input_shape, device=self.device, dtype=self.dtype)
        else:
            self.x = torch.randn(self.analysis.input_shape, device=self.device, dtype=self.dtype)
        counter = None
        try:
            with torch.no_grad():
                if flops:
                    with _flop_counter() as counter:
                        net(self.x)
                else:
                    net(self.x)
        except _oom_error(torch) as exc:
            raise RunError(f"out of memory on {self.label} in layer '{current[-1] if current else '?'}': "
                           f"{str(exc).splitlines()[0]}",
                           hint="use a smaller input, a smaller dtype or --device meta") from None
        except Exception as exc:  # noqa: BLE001 - torch rejecting what the analysis accepted is a finding
            layer = current[-1] if current else self.analysis.layers[0].name
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "not implemented for" in message or "Unsupported dtype" in message:
                raise DeviceError(
                    f"PyTorch cannot run layer '{layer}' in {self.dtype_name} on {self.label}: {message}",
                    hint="use another --dtype (float32 runs everywhere) or another --device") from None
            report = self.analysis.layer(layer)
            self.add(Check(layer, "forward", list(report.output_shape), None, ERROR,
                           note=f"PyTorch raised {type(exc).__name__} where the analysis expects output "
                                f"{list(report.output_shape)}: {message}",
                           location=str(report.location) if report.location.line is not None else None))
            return None
        finally:
            for handle in handles:
                handle.remove()
        if counter is None:
            return {}, 0
        prefix = type(net).__name__ + "."
        per_module = {key.removeprefix(prefix): sum(ops.values())
                      for key, ops in counter.get_flop_counts().items() if key.startswith(prefix)}
        return per_module, int(counter.get_total_flops())

    def _record(self, name: str, out: Any) -> None:
        self.shapes[name] = _shape_of(out)
        if isinstance(out, (tuple, list)):
            self.piece_shapes[name] = [list(o.shape) for o in out if hasattr(o, "shape")]

    def _static_checks(self) -> None:
        net = self.net
        assert net is not None
        for report in self.analysis.layers:
            module = net.layer(report.name)
            self.compare(report.name, "output_shape", list(report.output_shape), self.shapes.get(report.name))
            if report.output_shapes:
                self.compare(report.name, "output_shapes", [list(s) for s in report.output_shapes],
                             self.piece_shapes.get(report.name))
            params = sum(p.numel() for p in module.parameters())
            buffers = sum(b.numel() for b in module.buffers())
            self.compare(report.name, "params", report.params, params)
            self.compare(report.name, "buffers", report.buffers, buffers)
        self.compare(None, "output_shape", list(self.analysis.output_shape),
                     self.shapes.get(self.analysis.layers[-1].name))
        # the whole module, as a user counts it (equal to the layers' sum: no module is shared)
        self.compare(None, "params", self.analysis.totals["params"], sum(p.numel() for p in net.parameters()))
        self.compare(None, "buffers", self.analysis.totals["buffers"], sum(b.numel() for b in net.buffers()))

    def _torch_flops(self, per_module: dict[str, int], total: int) -> None:
        assert self.net is not None
        for report in self.analysis.layers:
            measured = per_module.get(self.net.layer_paths[report.name], 0)
            self.compare(report.name, "torch_flops", report.torch_flops, measured)
        self.compare(None, "torch_flops", self.analysis.totals["torch_flops"], total)

    def _fvcore(self) -> None:
        analytic_total = self.analysis.totals["fvcore_flops"]
        try:
            import fvcore  # noqa: F401
            from fvcore.nn import FlopCountAnalysis
        except ImportError:
            self.add(Check(None, "fvcore_flops", analytic_total, None, SKIPPED, note="fvcore not installed"))
            return
        self.versions["fvcore"] = _version("fvcore")
        if self.device.type == "meta":
            self.add(Check(None, "fvcore_flops", analytic_total, None, SKIPPED,
                           note="fvcore traces real tensors; run on cpu or a GPU to compare it"))
            return
        torch = self.torch
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                analysis = FlopCountAnalysis(self.net, (self.x,))
                analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
                analysis.tracer_warnings("none")
                total = int(analysis.total())
                by_module = analysis.by_module()
        except Exception as exc:  # noqa: BLE001 - fvcore's tracer fails on some dtype/device pairs
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.add(Check(None, "fvcore_flops", analytic_total, None, SKIPPED,
                           note=f"fvcore could not trace this network in {self.dtype_name} on {self.label}: "
                                f"{first}"))
            return
        assert self.net is not None
        known_difference = 0
        consumed = {name for report in self.analysis.layers for name in report.inputs}
        for report in self.analysis.layers:
            measured = int(by_module.get(self.net.layer_paths[report.name], 0))
            notes = list(report.notes)
            if report.name not in consumed and report.name != self.net.output_name:
                notes.append("nothing reads this layer's output, so fvcore's tracer drops it")
            if measured != report.fvcore_flops and notes:
                self.add(Check(report.name, "fvcore_flops", report.fvcore_flops, measured, KNOWN,
                               note="; ".join(notes)))
                known_difference += measured - report.fvcore_flops
            else:
                self.compare(report.name, "fvcore_flops", report.fvcore_flops, measured)
        if total == analytic_total:
            self.compare(None, "fvcore_flops", analytic_total, total)
        elif known_difference and total - analytic_total == known_difference:
            self.add(Check(None, "fvcore_flops", analytic_total, total, KNOWN,
                           note="the difference is the sum of the layers' known fvcore differences"))
        else:
            self.compare(None, "fvcore_flops", analytic_total, total)

    def _receptive_fields(self, which: str) -> None:
        if self.device.type == "meta":
            self.add(Check(None, "receptive_field", None, None, SKIPPED,
                           note="the receptive-field probe needs real tensors; run on cpu or a GPU"))
            return
        from convcalc.torch_backend.rf_probe import probe

        assert self.net is not None
        probe_dtype = self.torch.float32 if self.device.type == "mps" else self.torch.float64
        try:
            results = probe(self.net, self.analysis, self.device, probe_dtype, self.seed, which)
        except _oom_error(self.torch) as exc:
            self.add(Check(None, "receptive_field", None, None, SKIPPED,
                           note=f"the probe ran out of memory on {self.label} (it keeps every activation in "
                                f"{str(probe_dtype).removeprefix('torch.')}): {str(exc).splitlines()[0]}"))
            return
        for result in results:
            if not result.comparable:
                self.add(Check(result.layer, "receptive_field.size", result.analytic_size,
                               result.measured_size, SKIPPED, note=_probe_note(result)))
                continue
            self.add(Check(result.layer, "receptive_field.size", result.analytic_size, result.measured_size,
                           OK if result.size_ok else MISMATCH,
                           note=_probe_note(result)))
            if result.analytic_center is not None:
                self.add(Check(result.layer, "receptive_field.center", result.analytic_center,
                               result.measured_center, OK if result.center_ok else MISMATCH,
                               note=_probe_note(result)))

    def against(self, target: Any) -> None:
        from convcalc.torch_backend.against import compare, load_target

        tick = time.perf_counter()
        torch = self.torch
        label = target if isinstance(target, str) else type(target).__name__
        reference = load_target(target, self.analysis) if isinstance(target, str) else target
        self.timings["against import"] = time.perf_counter() - tick
        device = self.device if self.device.type != "meta" else torch.device("cpu")
        checks, timings = compare(self.analysis, reference, device, self.dtype, self.seed, label)
        self.timings.update(timings)
        for check in checks:
            self.add(check)

    # -- the report ----------------------------------------------------------------------------------
    def report(self) -> ValidationReport:
        checks: list[Check] = []
        for report in self.analysis.layers:
            checks.extend(self.by_layer[report.name])
        checks.extend(self.network)
        return ValidationReport(
            name=self.analysis.name, source=self.analysis.spec.source, device=self.label,
            dtype=self.dtype_name,
            seed=self.seed, input_shape=list(self.analysis.input_shape),
            output_shape=list(self.analysis.output_shape), checks=checks, timings=dict(self.timings),
            versions=dict(self.versions), memory=self.memory,
        )


def _flop_counter() -> Any:
    """FlopCounterMode, without the one-second import of torch._dynamo its first dispatch triggers.

    torch wraps every dispatch mode's __torch_dispatch__ so that it imports torch._dynamo on first use,
    only to exclude that function from torch.compile; this pass never compiles, and the import would
    cost about as much as the rest of a validation. The wrapper caches its disabled function on the raw
    one; pre-filling that cache with the raw function skips the import. Where torch's internals differ,
    nothing is patched and the counter works as usual.
    """
    import sys

    from torch.utils import flop_counter

    if "torch._dynamo" not in sys.modules:
        mode = getattr(flop_counter, "_FlopCounterMode", None)
        raw = getattr(getattr(mode, "__torch_dispatch__", None), "__wrapped__", None)
        if raw is not None and not hasattr(raw, "__dynamo_disable"):
            setattr(raw, "__dynamo_disable", raw)
    return flop_counter.FlopCounterMode(display=False)


def _probe_note(result: Any) -> str:
    parts = [f"output position {result.position}"] if result.position is not None else []
    if len(result.fields) > 1:
        parts[-1:] = [f"{len(result.fields)} output positions from {result.position}"]
    wrong = result.first_wrong_field()
    if wrong:
        parts.append(wrong)
    proven_global = [i for i, a in enumerate(result.analytic_size)
                     if a == "global" and i not in result.unproven and result.measured_size is not None]
    if proven_global:
        parts.append("global axes must span the whole input")
    if result.skipped:
        parts.append(result.skipped)
    return "; ".join(parts)


def _oom_error(torch: Any) -> type[BaseException]:
    # torch.OutOfMemoryError since 2.5; torch.cuda's name before that
    return getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError


def _shape_of(out: Any) -> list[int] | None:
    if hasattr(out, "shape"):
        return list(out.shape)
    if isinstance(out, (tuple, list)) and out and hasattr(out[0], "shape"):
        return list(out[0].shape)
    return None


def _version(package: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(package)
    except Exception:  # noqa: BLE001
        return None


def describe_memory(memory: Mapping[str, Any] | None) -> str:
    if not memory:
        return ""
    available = memory.get("available_bytes")
    text = f"memory estimate {human_bytes(memory['total_bytes'])}"
    if available is not None:
        text += f" of {human_bytes(available)} available"
    return text


__all__ = ["DTYPE_BYTES", "STATUSES", "Check", "ValidationReport", "validate"]
