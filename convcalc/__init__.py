"""convcalc: shapes, parameters, MACs/FLOPs and receptive fields of CNNs, proven against PyTorch.

Importing convcalc pulls in neither torch nor rich: the analytic API is pure Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convcalc.errors import ConvcalcError, SpecError

__version__ = "0.1.0"

__all__ = ["Analysis", "ConvcalcError", "SpecError", "analyze", "build", "from_module", "validate", "load_arch",
           "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from convcalc.analysis import Analysis, analyze


def __getattr__(name: str) -> Any:
    if name in ("analyze", "Analysis"):
        from convcalc import analysis

        return getattr(analysis, name)
    if name in ("build", "validate", "from_module"):
        from convcalc import torch_backend

        return getattr(torch_backend, name)
    if name == "load_arch":
        from convcalc import archs

        return archs.load_arch
    raise AttributeError(f"module 'convcalc' has no attribute '{name}'")
