"""The PyTorch side of convcalc: build a spec as a torch.nn.Module and prove the analysis by running it.

Importing this package does not import torch (the CLI imports it to register commands); torch and
fvcore are imported when `build` or `validate` is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from convcalc.torch_backend.devices import DeviceError, MemoryRefused, RunError

if TYPE_CHECKING:  # pragma: no cover
    from convcalc.torch_backend.builder import ConvcalcNet
    from convcalc.torch_backend.validation import ValidationReport


def build(spec: Any, input_shape: Sequence[int] | None = None, params: Mapping[str, Any] | None = None,
          **kwargs: Any) -> ConvcalcNet:
    """The network of `spec` as a torch.nn.Module; see convcalc.torch_backend.builder.build."""
    from convcalc.torch_backend.builder import build as _build

    return _build(spec, input_shape, params, **kwargs)


def from_module(module: Any, input_shape: Sequence[int], **kwargs: Any) -> dict[str, Any]:
    """The convcalc spec (a mapping) of a torch.nn.Module at `input_shape`, traced with torch.fx; see
    convcalc.torch_backend.importer.from_module."""
    from convcalc.torch_backend.importer import from_module as _from_module

    return _from_module(module, input_shape, **kwargs)


def validate(spec: Any, device: str = "cpu", dtype: str = "float32", seed: int = 0, rf: bool = False,
             flops: bool = True, **kwargs: Any) -> ValidationReport:
    """Run `spec` in PyTorch and compare every analytic number; see convcalc.torch_backend.validation."""
    from convcalc.torch_backend.validation import validate as _validate

    return _validate(spec, device=device, dtype=dtype, seed=seed, rf=rf, flops=flops, **kwargs)


def __getattr__(name: str) -> Any:
    if name in ("ValidationReport", "Check"):
        from convcalc.torch_backend import validation as _module

        return getattr(_module, name)
    if name in ("ConvcalcNet", "BuildError"):
        from convcalc.torch_backend import builder as _module

        return getattr(_module, name)
    raise AttributeError(f"module 'convcalc.torch_backend' has no attribute '{name}'")


__all__ = [
    "BuildError",
    "ConvcalcNet",
    "DeviceError",
    "MemoryRefused",
    "RunError",
    "ValidationReport",
    "build",
    "from_module",
    "validate",
]
