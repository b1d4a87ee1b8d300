"""Small torch modules for convcalc's layers that have no torch.nn class: the graph layers (Add, Concat,
Crop, Mul, ...), the tensor operations (Narrow, Permute, Reshape, Mean, ...) and torchvision's ConvNeXt
pieces (LayerNorm2d, layer scale, StochasticDepth), re-implemented here: convcalc never needs torchvision.

Imported lazily by those layers' `build()`; each forward takes the layer's inputs as positional args.
"""

from __future__ import annotations

import functools
from typing import Sequence

import torch
import torch.nn.functional as F
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


class Elementwise(nn.Module):
    """torch.<op> (add, mul, sub, div) folded over all inputs, left to right, with torch broadcasting."""

    def __init__(self, op: str) -> None:
        super().__init__()
        self.op = op

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return functools.reduce(getattr(torch, self.op), xs)

    def extra_repr(self) -> str:
        return f"op={self.op}"


class Narrow(nn.Module):
    """torch.narrow(x, dim, start, length)."""

    def __init__(self, dim: int, start: int, length: int) -> None:
        super().__init__()
        self.dim, self.start, self.length = dim, start, length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.narrow(x, self.dim, self.start, self.length)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, start={self.start}, length={self.length}"


class Permute(nn.Module):
    """torch.permute(x, dims), as torchvision.ops.Permute."""

    def __init__(self, dims: Sequence[int]) -> None:
        super().__init__()
        self.dims = list(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Transpose(nn.Module):
    """torch.transpose(x, dim0, dim1)."""

    def __init__(self, dim0: int, dim1: int) -> None:
        super().__init__()
        self.dim0, self.dim1 = dim0, dim1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.transpose(x, self.dim0, self.dim1)

    def extra_repr(self) -> str:
        return f"dim0={self.dim0}, dim1={self.dim1}"


class Reshape(nn.Module):
    """torch.reshape(x, shape), the batch dim included in `shape` (a view where the strides allow)."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = list(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.reshape(x, self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Mean(nn.Module):
    """torch.mean(x, dim, keepdim); an empty `dim` reduces every dim, as torch's does."""

    def __init__(self, dim: Sequence[int], keepdim: bool = False) -> None:
        super().__init__()
        self.dim, self.keepdim = list(dim), keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean(x, self.dim, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, keepdim={self.keepdim}"


class LayerNorm2d(nn.LayerNorm):
    """torchvision's ConvNeXt LayerNorm2d: a LayerNorm over the channels of [N, C, H, W], done channels-last.

    Built as torchvision builds it (an nn.LayerNorm whose forward permutes to [N, H, W, C], calls
    F.layer_norm and permutes back), so its state_dict keys, fvcore's count (aten::layer_norm) and
    FlopCounterMode's are torchvision's.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Scale(nn.Module):
    """A learnable per-channel factor, `weight * x` (ConvNeXt's layer scale): weight [C, 1, ...]."""

    def __init__(self, shape: Sequence[int], init_value: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full(tuple(shape), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: in training, drop whole samples ('row') or the whole batch
    ('batch') with probability p and scale the survivors by 1/(1-p); the identity in eval mode."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p < 0.0 or self.p > 1.0:
            raise ValueError(f"drop probability has to be between 0 and 1, but got {self.p}")
        if self.mode not in ("batch", "row"):
            raise ValueError(f"mode has to be either 'batch' or 'row', but got {self.mode}")
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
