"""`validate --against`: hold a spec to the PyTorch code it describes.

The spec is built, the target's state_dict is loaded into it (every missing, unexpected or mis-shaped
key named), both run in eval mode on the same seeded input, and the outputs are compared: the final
output within float tolerance, and the output shape and values of every layer whose name both have
(a layer of the spec and a module of the target of the same qualified name). Values are compared until
the first layer that differs, which is where the spec and the code part; every later layer differs
with it and is not reported again.

The results are `Check` rows (check names `against.*`) in the validation report, so `validate`,
`check`, its JSON and its JUnit XML show them like every other comparison.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from convcalc.analysis.core import Analysis
from convcalc.torch_backend.validation import ERROR, MISMATCH, OK, SKIPPED, Check

if TYPE_CHECKING:  # pragma: no cover
    from convcalc.torch_backend.builder import ConvcalcNet

# Largest difference allowed, relative to the largest magnitude of the target's output (at least 1)
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 5e-2}


def load_target(target: str, analysis: Analysis) -> nn.Module:
    """A spec's `against:` target: a relative file path is read from the spec's folder first."""
    from convcalc.torch_backend.targets import load_module

    source = analysis.spec.source if analysis.spec is not None else None
    base = Path(source).resolve().parent if source else None
    return load_module(target, base=base)


def compare(analysis: Analysis, reference: nn.Module, device: torch.device, dtype: torch.dtype, seed: int,
            label: str) -> tuple[list[Check], dict[str, float]]:
    """Every `against.*` check of the spec's network against `reference` (which is left unchanged)."""
    from convcalc.torch_backend.builder import BuildError, build_network

    timings: dict[str, float] = {}
    tick = time.perf_counter()
    checks: list[Check] = []
    torch.manual_seed(seed)
    try:
        net = build_network(analysis, device, dtype).eval()
    except BuildError as exc:
        return [Check(exc.layer, "against.build", None, None, ERROR, note=exc.message)], timings
    training = reference.training
    original = _where(reference)
    reference.eval()
    try:
        reference.to(device=device, dtype=dtype)
        checks += _state_dict(net, reference, label)
        checks += _totals(analysis, reference)
        timings["against load"] = time.perf_counter() - tick
        tick = time.perf_counter()
        checks += _outputs(analysis, net, reference, device, dtype, seed, label)
        timings["against run"] = time.perf_counter() - tick
    finally:
        reference.train(training)
        if original is not None:
            reference.to(device=original[0], dtype=original[1])
    return checks, timings


def _where(module: nn.Module) -> tuple[torch.device, torch.dtype] | None:
    tensor = next(iter(module.parameters()), None)
    if tensor is None:
        tensor = next(iter(module.buffers()), None)
    return (tensor.device, tensor.dtype) if tensor is not None and tensor.is_floating_point() else None


def _owner(key: str, paths: dict[str, str]) -> str | None:
    """The spec layer a state_dict key belongs to (the longest module path that prefixes it)."""
    parts = key.split(".")
    for cut in range(len(parts), 0, -1):
        name = paths.get(".".join(parts[:cut]))
        if name is not None:
            return name
    return None


def _state_dict(net: "ConvcalcNet", reference: nn.Module, label: str) -> list[Check]:
    mine = net.state_dict()
    theirs = reference.state_dict()
    paths = {path: name for name, path in net.layer_paths.items()}
    checks: list[Check] = []
    loadable = {}
    for key, tensor in mine.items():
        owner = _owner(key, paths)
        if key not in theirs:
            checks.append(Check(owner, "against.state_dict", list(tensor.shape), None, MISMATCH,
                                note=f"'{key}' is in the spec but not in {label}'s state_dict"))
        elif tuple(theirs[key].shape) != tuple(tensor.shape):
            checks.append(Check(owner, "against.state_dict", list(tensor.shape), list(theirs[key].shape), MISMATCH,
                                note=f"'{key}' has shape {list(tensor.shape)} in the spec, "
                                     f"{list(theirs[key].shape)} in {label}"))
        else:
            loadable[key] = theirs[key]
    for key, tensor in theirs.items():
        if key not in mine:
            owner = _owner(key, paths)
            module = key.rpartition(".")[0] or key
            checks.append(Check(owner or module, "against.state_dict", None, list(tensor.shape), MISMATCH,
                                note=f"'{key}' of {label} has no place in the spec"
                                     + ("" if owner else f" (it has no layer '{module}')")))
    net.load_state_dict(loadable, strict=False)
    if not checks:
        checks.append(Check(None, "against.state_dict", len(mine), len(theirs), OK,
                            note=f"all {len(mine)} tensors loaded by name"))
    return checks


def _totals(analysis: Analysis, reference: nn.Module) -> list[Check]:
    params = sum(p.numel() for p in reference.parameters())
    buffers = sum(b.numel() for b in reference.buffers())
    return [Check(None, "against.params", analysis.totals["params"], params,
                  OK if analysis.totals["params"] == params else MISMATCH),
            Check(None, "against.buffers", analysis.totals["buffers"], buffers,
                  OK if analysis.totals["buffers"] == buffers else MISMATCH)]


def _record(store: dict[str, Any], name: str) -> Any:
    def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
        if name not in store:  # a module called again (a shared ReLU): its first call is the layer
            store[name] = output.detach().clone() if isinstance(output, torch.Tensor) else None
    return hook


def _outputs(analysis: Analysis, net: "ConvcalcNet", reference: nn.Module, device: torch.device,
             dtype: torch.dtype, seed: int, label: str) -> list[Check]:
    names = [report.name for report in analysis.layers]
    theirs_modules = dict(reference.named_modules())
    common = [n for n in names if n and n in theirs_modules]
    theirs: dict[str, Any] = {}
    mine: dict[str, Any] = {}
    handles = [theirs_modules[n].register_forward_hook(_record(theirs, n)) for n in common]
    handles += [net.layer(n).register_forward_hook(_record(mine, n)) for n in common]
    torch.manual_seed(seed)
    x = torch.randn(tuple(analysis.input_shape), device=device, dtype=dtype)
    checks: list[Check] = []
    try:
        with torch.no_grad():
            try:
                expected = reference(x.clone())
            except Exception as exc:  # noqa: BLE001 - the target failing on the spec's input is a finding
                return [Check(None, "against.forward", list(analysis.input_shape), None, ERROR,
                              note=f"{label} raised {type(exc).__name__} on an input of shape "
                                   f"{list(analysis.input_shape)}: {_first_line(exc)}")]
            try:
                actual = net(x.clone())
            except Exception as exc:  # noqa: BLE001
                return [Check(None, "against.forward", list(analysis.input_shape), None, ERROR,
                              note=f"the spec's network raised {type(exc).__name__}: {_first_line(exc)}")]
    finally:
        for handle in handles:
            handle.remove()
    scale_tolerance = TOLERANCE.get(dtype, 1e-4)
    differs = False
    for name in common:
        a, b = mine.get(name), theirs.get(name)
        if a is None or b is None:
            continue
        shape_ok = tuple(a.shape) == tuple(b.shape)
        checks.append(Check(name, "against.output_shape", list(a.shape), list(b.shape), OK if shape_ok else MISMATCH,
                            note=None if shape_ok else f"output shape {list(a.shape)} in the spec, "
                                 f"{list(b.shape)} from {label}'s module '{name}'"))
        if differs or not shape_ok:
            differs = differs or not shape_ok
            continue
        difference, tolerance = _difference(a, b, scale_tolerance)
        if difference > tolerance:
            differs = True
            checks.append(Check(name, "against.values", tolerance, difference, MISMATCH,
                                note=f"the first layer whose output differs from {label}'s module '{name}' "
                                     f"(largest difference {difference:.3g}, tolerance {tolerance:.3g}); later "
                                     "layers differ with it"))
    if not isinstance(expected, torch.Tensor) or not isinstance(actual, torch.Tensor):
        checks.append(Check(None, "against.output", None, None, ERROR,
                            note=f"{label} returns a {type(expected).__name__}, not one tensor"))
        return checks
    same_shape = tuple(actual.shape) == tuple(expected.shape)
    checks.append(Check(None, "against.output_shape", list(actual.shape), list(expected.shape),
                        OK if same_shape else MISMATCH,
                        note=None if same_shape else f"the spec's output is {list(actual.shape)}, "
                             f"{label}'s {list(expected.shape)}"))
    if same_shape:
        difference, tolerance = _difference(actual, expected, scale_tolerance)
        ok = difference <= tolerance
        checks.append(Check(None, "against.output", tolerance, difference, OK if ok else MISMATCH,
                            note=f"largest difference {difference:.3g} between the outputs (tolerance "
                                 f"{tolerance:.3g})"))
    containers = (nn.Sequential, nn.ModuleList, nn.ModuleDict)  # an empty one is no layer
    unnamed = [n for n, m in theirs_modules.items()
               if n and not list(m.children()) and not isinstance(m, containers) and n not in set(names)]
    if unnamed:
        shown = ", ".join(unnamed[:3]) + (", ..." if len(unnamed) > 3 else "")
        checks.append(Check(None, "against.names", len(common), len(unnamed), SKIPPED,
                            note=f"{len(unnamed)} module(s) of {label} have no layer of that name in the spec "
                                 f"({shown}); only their effect on later layers is compared"))
    return checks


def _difference(a: torch.Tensor, b: torch.Tensor, relative: float) -> tuple[float, float]:
    a64, b64 = a.double(), b.double()
    if not torch.isfinite(a64).all() or not torch.isfinite(b64).all():
        same = torch.equal(torch.nan_to_num(a64, nan=0.0), torch.nan_to_num(b64, nan=0.0))
        return (0.0 if same else float("inf")), 0.0
    difference = float((a64 - b64).abs().max()) if a64.numel() else 0.0
    scale = float(b64.abs().max()) if b64.numel() else 0.0
    return difference, relative * max(1.0, scale)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["TOLERANCE", "compare", "load_target"]
