"""Activation functions: elementwise, shape-preserving (GLU halves one dim), 0 MACs.

FLOPs convention (convcalc's own): every elementary operation on one element counts 1 - an add, a
multiply, a divide, a comparison (max/min/select), or one elementary function (exp, log, tanh, erf).
Each class states its per-element count in `flops_rule`. fvcore and FlopCounterMode count none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

from convcalc.errors import LayerError
from convcalc.layers.base import RF, Arg, Layer, Shape, register
from convcalc.layers.window import globalise_dims, normalize_dim

if TYPE_CHECKING:  # pragma: no cover
    import torch

_INPLACE = Arg("inplace", "bool", False, doc="overwrite the input (no effect on counts)")


class _Activation(Layer):
    family = "activation"
    per_element: ClassVar[int] = 1
    ops: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "flops_rule" not in cls.__dict__:
            cls.flops_rule = f"{cls.per_element} per element" + (f" ({cls.ops})" if cls.ops else "")

    def flops(self) -> int:
        return self.per_element * self.numel()

    def build(self) -> "torch.nn.Module":
        import torch.nn as nn

        return getattr(nn, self.type_name)(**self.values)


def _simple(name: str, per_element: int, ops: str, summary: str, *args: Arg, functions: tuple[str, ...] = (),
            methods: tuple[str, ...] = ()) -> None:
    register(type(name, (_Activation,), {
        "type_name": name, "per_element": per_element, "ops": ops, "args": args,
        "summary": f"{summary} (torch.nn.{name})", "__doc__": f"{summary}.",
        "torch_functions": functions, "torch_methods": methods,
    }))


_F = "torch.nn.functional."


_simple("ReLU", 1, "max(x, 0)", "rectified linear unit", _INPLACE,
        functions=(_F + "relu", _F + "relu_", "torch.relu", "torch.relu_"), methods=("relu", "relu_"))
_simple("ReLU6", 2, "min(max(x, 0), 6)", "ReLU clipped at 6", _INPLACE, functions=(_F + "relu6",))
_simple("LeakyReLU", 2, "compare, multiply", "leaky ReLU",
        Arg("negative_slope", "float", 0.01, doc="slope for x < 0"), _INPLACE,
        functions=(_F + "leaky_relu", _F + "leaky_relu_"))
_simple("ELU", 4, "compare, exp, subtract, multiply", "exponential linear unit",
        Arg("alpha", "float", 1.0, doc="scale of the negative part"), _INPLACE, functions=(_F + "elu", _F + "elu_"))
_simple("SELU", 7, "exp, subtract, multiply, min, max, add, scale", "scaled ELU", _INPLACE,
        functions=(_F + "selu", "torch.selu", "torch.selu_"))
_simple("SiLU", 5, "sigmoid (4), multiply", "sigmoid-weighted linear unit (swish)", _INPLACE,
        functions=(_F + "silu",))
_simple("Mish", 5, "softplus (exp, add, log), tanh, multiply", "Mish", _INPLACE, functions=(_F + "mish",))
_simple("Sigmoid", 4, "negate, exp, add, reciprocal", "logistic sigmoid",
        functions=(_F + "sigmoid", "torch.sigmoid", "torch.sigmoid_"), methods=("sigmoid", "sigmoid_"))
_simple("Tanh", 1, "tanh", "hyperbolic tangent",
        functions=(_F + "tanh", "torch.tanh", "torch.tanh_"), methods=("tanh", "tanh_"))
_simple("LogSigmoid", 5, "negate, exp, add, log, negate", "log of the sigmoid", functions=(_F + "logsigmoid",))
_simple("Hardswish", 5, "add, min, max, multiply, divide", "hard swish", _INPLACE, functions=(_F + "hardswish",))
_simple("Hardsigmoid", 4, "add, min, max, divide", "hard sigmoid", _INPLACE, functions=(_F + "hardsigmoid",))
_simple("Softsign", 3, "abs, add, divide", "softsign", functions=(_F + "softsign",))
_simple("Tanhshrink", 2, "tanh, subtract", "x - tanh(x)", functions=(_F + "tanhshrink",))
_simple("Hardshrink", 2, "abs, compare", "hard shrinkage",
        Arg("lambd", "float", 0.5, doc="threshold"), functions=(_F + "hardshrink",))
_simple("Threshold", 1, "compare", "threshold",
        Arg("threshold", "float", doc="values at or below it are replaced"),
        Arg("value", "float", doc="the replacement"), _INPLACE, functions=(_F + "threshold", _F + "threshold_"))


@register
class GELU(_Activation):
    type_name = "GELU"
    summary = "Gaussian error linear unit (torch.nn.GELU)"
    flops_rule = "5 per element (divide, erf, add, 2 multiplies); 8 with approximate='tanh'"
    args = (Arg("approximate", "str", "none", choices=("none", "tanh"), doc="'tanh' for the tanh estimate"),)
    torch_functions = (_F + "gelu",)

    def flops(self) -> int:
        return (8 if self.approximate == "tanh" else 5) * self.numel()


@register
class CELU(_Activation):
    type_name = "CELU"
    summary = "continuously differentiable ELU (torch.nn.CELU)"
    per_element = 7
    ops = "divide, exp, subtract, multiply, min, max, add"
    args = (Arg("alpha", "float", 1.0, doc="scale of the negative part (not 0)"), _INPLACE)
    torch_functions = (_F + "celu", _F + "celu_")

    def check(self) -> None:
        if self.alpha == 0:
            raise LayerError("ZeroDivisionError: alpha cannot be 0 for CELU", arg="alpha")


@register
class Hardtanh(_Activation):
    type_name = "Hardtanh"
    summary = "clamp to [min_val, max_val] (torch.nn.Hardtanh)"
    per_element = 2
    ops = "min, max"
    args = (
        Arg("min_val", "float", -1.0, doc="lower bound"),
        Arg("max_val", "float", 1.0, doc="upper bound (greater than min_val)"),
        _INPLACE,
    )
    torch_functions = (_F + "hardtanh", _F + "hardtanh_")

    def check(self) -> None:
        if not self.max_val > self.min_val:
            raise LayerError(f"max_val ({self.max_val}) must be greater than min_val ({self.min_val})",
                             arg="max_val")


@register
class RReLU(_Activation):
    type_name = "RReLU"
    summary = "randomised leaky ReLU; eval uses the mean slope (torch.nn.RReLU)"
    per_element = 2
    ops = "compare, multiply"
    args = (
        Arg("lower", "float", 1.0 / 8, doc="lower bound of the random slope"),
        Arg("upper", "float", 1.0 / 3, doc="upper bound of the random slope"),
        _INPLACE,
    )

    def check(self) -> None:
        if self.lower > self.upper:
            raise LayerError("Lower bound should be less than or equal to the upper bound", arg="lower")


@register
class Softplus(_Activation):
    type_name = "Softplus"
    summary = "smooth ReLU, log(1 + exp(beta x)) / beta (torch.nn.Softplus)"
    per_element = 6
    ops = "multiply, exp, add, log, divide, threshold compare"
    args = (
        Arg("beta", "float", 1.0, doc="sharpness"),
        Arg("threshold", "float", 20.0, doc="linear above this value of beta x"),
    )
    torch_functions = (_F + "softplus",)


@register
class Softshrink(_Activation):
    type_name = "Softshrink"
    summary = "soft shrinkage (torch.nn.Softshrink)"
    per_element = 3
    ops = "2 compares, add or subtract"
    args = (Arg("lambd", "float", 0.5, doc="threshold (non-negative)"),)
    torch_functions = (_F + "softshrink",)

    def check(self) -> None:
        if self.lambd < 0:
            raise LayerError(f"lambda must be in range [0, 3.40282e+38] for input dtype Float, but found {self.lambd}",
                             arg="lambd")


@register
class PReLU(_Activation):
    type_name = "PReLU"
    summary = "leaky ReLU with a learnable slope, one or one per channel (torch.nn.PReLU)"
    per_element = 2
    ops = "compare, multiply"
    args = (
        Arg("num_parameters", "int", 1, doc="1, or the number of channels"),
        Arg("init", "float", 0.25, doc="initial slope"),
    )

    def check(self) -> None:
        n = self.num_parameters
        if n < 0:
            raise LayerError(f"Trying to create tensor with negative dimension {n}: [{n}]", arg="num_parameters")
        channels = self.in_shape[1] if len(self.in_shape) >= 2 else 1
        if n != 1 and n != channels:
            raise LayerError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} and "
                f"channel size = {channels}.", hint=f"use num_parameters=1 or {channels}", arg="num_parameters")

    def params(self) -> int:
        return self.num_parameters


# --------------------------------------------------------------------------------------------------
# Along one dim: softmax family and GLU
# --------------------------------------------------------------------------------------------------


class _SoftmaxBase(_Activation):
    args = (Arg("dim", "int", None, nullable=True, doc="the dim that sums to 1 (null: PyTorch's legacy choice)"),)
    torch_call_args = ("dim", "_stacklevel", "dtype")

    @classmethod
    def args_from_call(cls, target: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        values = super().args_from_call(target, args, kwargs)
        values.pop("_stacklevel", None)  # only where a deprecation warning points
        if values.pop("dtype", None) is not None:
            raise LayerError(f"{target} with a dtype casts the input first; {cls.type_name} has no dtype", arg="dtype")
        return values

    @property
    def axis(self) -> int:
        rank = len(self.in_shape)
        if self.dim is None:  # torch.nn.functional._get_softmax_dim
            return 0 if rank in (0, 1, 3) else 1
        return normalize_dim(self.dim, rank)

    def check(self) -> None:
        self.axis  # noqa: B018  (raises for a dim out of range)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        return globalise_dims(in_rfs[0], self.in_shape, [self.axis])


@register
class Softmax(_SoftmaxBase):
    type_name = "Softmax"
    summary = "softmax along `dim` (torch.nn.Softmax)"
    torch_functions = (_F + "softmax", "torch.softmax")
    torch_methods = ("softmax",)
    per_element = 3
    ops = "exp, add, divide"


@register
class LogSoftmax(_SoftmaxBase):
    type_name = "LogSoftmax"
    summary = "log-softmax along `dim` (torch.nn.LogSoftmax)"
    torch_functions = (_F + "log_softmax", "torch.log_softmax")
    torch_methods = ("log_softmax",)
    per_element = 3
    ops = "exp, add, subtract (one log per row is not counted)"


@register
class Softmin(_SoftmaxBase):
    type_name = "Softmin"
    summary = "softmax of -x along `dim` (torch.nn.Softmin)"
    torch_functions = (_F + "softmin",)
    per_element = 4
    ops = "negate, exp, add, divide"


@register
class Softmax2d(_Activation):
    type_name = "Softmax2d"
    summary = "softmax over channels at every position of a [N, C, H, W] or [C, H, W] map (torch.nn.Softmax2d)"
    per_element = 3
    ops = "exp, add, divide"

    def check(self) -> None:
        rank = len(self.in_shape)
        if rank not in (3, 4):
            raise LayerError(f"Softmax2d: expected input to be 3D or 4D, got {rank}D instead", arg="inputs")


@register
class GLU(_Activation):
    type_name = "GLU"
    summary = "gated linear unit: halves `dim`, first half * sigmoid(second half) (torch.nn.GLU)"
    per_element = 5
    ops = "per output element: sigmoid (4), multiply"
    args = (Arg("dim", "int", -1, doc="the dim to split in half"),)
    torch_functions = (_F + "glu",)

    def check(self) -> None:
        axis = normalize_dim(self.dim, len(self.in_shape))
        if self.in_shape[axis] % 2:
            raise LayerError(f"Halving dimension must be even, but dimension {axis} is size {self.in_shape[axis]}",
                             arg="dim")

    def output_shape(self) -> Shape:
        axis = normalize_dim(self.dim, len(self.in_shape))
        shape = list(self.in_shape)
        shape[axis] //= 2
        return tuple(shape)

    def rf(self, in_rfs: Sequence[RF]) -> RF:
        # output i reads inputs i and i + n/2: no single window describes it along a spatial dim
        return globalise_dims(in_rfs[0], self.in_shape, [normalize_dim(self.dim, len(self.in_shape))])

