"""Devices and dtypes for a validation run, and the errors a run raises before it starts.

Importing this module does not import torch: the CLI uses the names and errors here to check options
and to map failures to exit codes; torch is imported inside the functions that need it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from convcalc.errors import ConvcalcError

if TYPE_CHECKING:  # pragma: no cover
    import torch

# Every spelling users type, mapped to the canonical name used in reports.
DTYPE_ALIASES: dict[str, str] = {
    "float32": "float32", "fp32": "float32", "float": "float32", "f32": "float32",
    "float16": "float16", "fp16": "float16", "half": "float16", "f16": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float64": "float64", "fp64": "float64", "double": "float64", "f64": "float64",
}
DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
DEVICE_CHOICES = ("cpu", "cuda", "cuda:N", "mps", "meta", "auto")
_DEVICE_RE = re.compile(r"^(cpu|cuda|cuda:\d+|mps|meta|auto)$")


class RunError(ConvcalcError):
    """A run that cannot start (device, dtype, memory): bad input, not a disagreement with PyTorch."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f"\n  hint: {self.hint}" if self.hint else "")


class DeviceError(RunError):
    """The device or dtype asked for does not exist here or cannot run this network."""


class MemoryRefused(RunError):
    """The forward pass would not fit in the device's available memory (and --force was not given)."""

    def __init__(self, message: str, *, hint: str | None = None, needed: int = 0, available: int = 0) -> None:
        super().__init__(message, hint=hint)
        self.needed = needed
        self.available = available


def canonical_dtype(name: str) -> str:
    key = str(name).strip().lower().removeprefix("torch.")
    if key not in DTYPE_ALIASES:
        raise DeviceError(f"unknown dtype '{name}'", hint="use float32, float16, bfloat16 or float64")
    return DTYPE_ALIASES[key]


def check_device_name(name: str) -> str:
    key = str(name).strip().lower()
    if not _DEVICE_RE.match(key):
        raise DeviceError(f"unknown device '{name}'", hint="use cpu, cuda, cuda:N, mps, meta or auto")
    return key


def resolve_device(name: str) -> torch.device:
    """The torch device for a name; 'auto' is CUDA when available, else CPU. Unavailable ones raise."""
    import torch

    key = check_device_name(name)
    if key == "auto":
        key = "cuda" if torch.cuda.is_available() else "cpu"
    if key.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device '{key}' is not available: this PyTorch ({torch.__version__}) sees no "
                              "CUDA GPU", hint="use --device cpu, meta (shapes only) or auto")
        index = int(key.split(":")[1]) if ":" in key else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise DeviceError(f"device 'cuda:{index}' does not exist: {torch.cuda.device_count()} CUDA "
                              "device(s) here", hint=f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
        return torch.device("cuda", index)
    if key == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("device 'mps' is not available (Apple GPUs only, with an MPS-enabled PyTorch)",
                              hint="use --device cpu, meta (shapes only) or auto")
    return torch.device(key)


def torch_dtype(name: str) -> torch.dtype:
    import torch

    return getattr(torch, canonical_dtype(name))


def check_dtype_on_device(dtype: str, device: torch.device) -> None:
    if device.type == "mps" and dtype == "float64":
        raise DeviceError("MPS does not support float64", hint="use float32, float16 or bfloat16 on mps")


def available_memory(device: torch.device) -> int | None:
    """Bytes free for a forward pass on `device`, or None where it cannot be known (meta, unknown OS)."""
    import torch

    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        try:
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        except (AttributeError, RuntimeError):
            return None
    if device.type == "cpu":
        return _host_available()
    return None


def _host_available() -> int | None:
    candidates: list[int] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
                    break
    except OSError:
        pass
    # A container's memory limit can be far below what the host reports.
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as fh:
            limit = fh.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as fh:
                current = int(fh.read().strip())
            candidates.append(max(0, int(limit) - current))
    except (OSError, ValueError):
        pass
    if not candidates:
        try:
            import os

            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return min(candidates)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover
