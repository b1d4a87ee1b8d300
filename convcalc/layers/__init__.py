"""Every layer type convcalc knows, one family per module. Importing this package registers them all."""

from convcalc.layers import activation, composite, conv, linear, merge, norm, pool, resize, split, tensor  # noqa: F401
from convcalc.layers.base import REGISTRY, Arg, Layer, all_layer_types, lookup, register

__all__ = ["REGISTRY", "Arg", "Layer", "all_layer_types", "lookup", "register"]
