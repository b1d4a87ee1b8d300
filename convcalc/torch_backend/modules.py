"""Small torch modules for convcalc's graph layers (Add, Concat, Crop), which have no torch.nn class.

Imported lazily by those layers' `build()`; each forward takes the layer's inputs as positional args.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class Add(nn.Module):
    """Elementwise sum of all inputs, with torch broadcasting."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    """torch.cat of all inputs along `dim`."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Crop(nn.Module):
    """Centre-crop the spatial dims (2 onwards) of the first input, to `size` or to the second input's.

    The offset in each dim is (in - target) // 2, so an odd surplus leaves the extra row at the end.
    """

    def __init__(self, size: Sequence[int] | None = None) -> None:
        super().__init__()
        self.size = tuple(size) if size is not None else None

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        x = xs[0]
        target = tuple(xs[1].shape[2:]) if len(xs) > 1 else self.size
        if target is None or len(target) != x.dim() - 2:
            raise ValueError(f"Crop: target size {target} does not match the spatial dims of {tuple(x.shape)}")
        for offset_dim, (n, t) in enumerate(zip(x.shape[2:], target)):
            if not 0 <= t <= n:
                raise ValueError(f"Crop: cannot crop size {n} to {t} in spatial dim {offset_dim}")
            x = x.narrow(offset_dim + 2, (n - t) // 2, t)
        return x

    def extra_repr(self) -> str:
        return f"size={self.size}" if self.size is not None else "size=like the second input"


class Split(nn.Module):
    """torch.split as a module: a tuple of pieces, read by later layers as `name.k`."""

    def __init__(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> None:
        super().__init__()
        self.split_size_or_sections = (split_size_or_sections if isinstance(split_size_or_sections, int)
                                       else list(split_size_or_sections))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.split(x, self.split_size_or_sections, dim=self.dim))

    def extra_repr(self) -> str:
        return f"split_size_or_sections={self.split_size_or_sections}, dim={self.dim}"


class Chunk(nn.Module):
    """torch.chunk as a module: a tuple of pieces, read by later layers as `name.k`."""

    def __init__(self, chunks: int, dim: int = 0) -> None:
        super().__init__()
        self.chunks = chunks
        self.dim = dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.chunk(x, self.chunks, dim=self.dim))

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}, dim={self.dim}"
