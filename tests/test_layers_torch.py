"""Every layer rule proven against PyTorch 2.13 (CPU), fvcore 0.1.5 and FlopCounterMode.

For random layers (hypothesis), with valid and invalid arguments and tiny inputs:
  * convcalc raises SpecError  <=>  torch raises (in the constructor or the eval-mode forward),
    where the torch module is built from the same arguments independently of convcalc;
  * otherwise the output shape equals torch's, for that module and for the layer's own build();
  * params and buffers equal the numel sums of the built module.
Then fvcore_flops and torch_flops against real FlopCountAnalysis and FlopCounterMode, on random layers
and on small hand-built graphs; and a conformance test that every registered layer type has a sample
that passes all of the above (a new type without one fails).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import warnings
from typing import Any, Callable, Sequence

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

import convcalc
from convcalc.analysis.core import Analysis, LayerReport
from convcalc.errors import SpecError
from convcalc.layers import all_layer_types, lookup
from convcalc.layers.base import COMPOSITES

from torch_twins import TWINS

logging.getLogger("fvcore").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module="fvcore")

# Deterministic by default (a stable suite); CONVCALC_EXPLORE=<factor> explores new random examples, more of them.
EXPLORE = float(os.environ.get("CONVCALC_EXPLORE", "0") or 0)
SETTINGS = dict(deadline=None, derandomize=not EXPLORE, suppress_health_check=list(HealthCheck), database=None)


def fast(n: int) -> Any:
    return settings(max_examples=int(n * (EXPLORE or 1)), **SETTINGS)


@contextlib.contextmanager
def torch_threads(n: int) -> Any:
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    # Tiny tensors: torch's thread pool costs far more than it saves (30x on a busy 2-core machine)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------------------
# The comparison harness
# --------------------------------------------------------------------------------------------------


def _torch_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Spec values (YAML lists) as torch constructors take them (tuples)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def _run(module: nn.Module, *xs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return module.eval()(*xs)


def torch_outcome(make: Callable[[], nn.Module], shapes: Sequence[Sequence[int]]) -> tuple[Any, nn.Module | None]:
    """(output shape, module), or (the exception, None) if torch rejects the construction or the forward."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = make()
        out = _run(module, *[torch.randn(*s) for s in shapes])
    except Exception as exc:
        return exc, None
    return tuple(out.shape), module


def analyse(spec: dict[str, Any]) -> Analysis | SpecError:
    try:
        return convcalc.analyze(spec)
    except SpecError as exc:
        return exc


def numel(tensors: Any) -> int:
    return sum(t.numel() for t in tensors)


def assert_counts(report: LayerReport, module: nn.Module) -> None:
    assert report.params == numel(module.parameters()), (report.type, report.args)
    assert report.buffers == numel(module.buffers()), (report.type, report.args)


def check_layer(type_name: str, torch_kwargs: dict[str, Any], shape: Sequence[int],
                spec_args: dict[str, Any] | None = None,
                make: Callable[[], nn.Module] | None = None) -> Analysis | SpecError:
    """One layer: convcalc vs torch for errors, shape, params and buffers.

    `torch_kwargs` build torch's module (nn.<type_name>) unless `make` is given; `spec_args` (default:
    the same kwargs) is what the spec says, e.g. without the inferred in_channels.
    """
    args = dict(torch_kwargs if spec_args is None else spec_args)
    spec = {"input": list(shape), "layers": [{"type": type_name, **args}]}
    result = analyse(spec)
    maker = make or (lambda: getattr(nn, type_name)(**_torch_args(torch_kwargs)))
    outcome, module = torch_outcome(maker, [shape])
    context = f"{type_name}({args}) on {list(shape)}: convcalc -> {result}, torch -> {outcome!r}"
    if isinstance(result, SpecError):
        assert module is None, "convcalc raises where torch does not: " + context
        return result
    assert module is not None, "torch raises where convcalc does not: " + context
    report = result.layers[-1]
    assert report.output_shape == outcome, context
    assert_counts(report, module)
    built = quiet_build(report)
    built_shape = tuple(_run(built, torch.randn(*shape)).shape)
    assert built_shape == outcome, "build() differs from torch: " + context
    assert_counts(report, built)
    return result


def quiet_build(report: LayerReport) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Initializing zero-element tensors is a no-op"
        return report.layer.build()


def per_dim(draw: Any, nd: int, values: st.SearchStrategy[int], single: float = 0.5) -> Any:
    """An int, or a list with one entry per spatial dim (sometimes a one-element list)."""
    choice = draw(st.floats(0, 1))
    if choice < single:
        return draw(values)
    if choice < single + 0.05 and nd > 1:
        return [draw(values)]
    return draw(st.lists(values, min_size=nd, max_size=nd))


MOSTLY_POSITIVE = st.one_of(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(-1, 0))


@st.composite
def input_shape(draw: Any, nd: int, max_size: int | None = None, channels: int = 6) -> tuple[int, ...]:
    top = max_size or (9 if nd < 3 else 6)
    return (draw(st.integers(1, 2)), draw(st.integers(1, channels)),
            *draw(st.lists(st.integers(1, top), min_size=nd, max_size=nd)))


# --------------------------------------------------------------------------------------------------
# Convolutions
# --------------------------------------------------------------------------------------------------


@st.composite
def conv_cases(draw: Any, nd: int, transposed: bool) -> tuple[dict[str, Any], dict[str, Any], tuple[int, ...]]:
    shape = draw(input_shape(nd))
    channels = shape[1]
    groups = draw(st.sampled_from([1, 1, 1, 1, 2, 3, channels, channels, 0, -1]))
    per_group = draw(st.integers(0, 3))
    out_channels = draw(st.sampled_from([per_group * max(groups, 1), per_group * max(groups, 1),
                                         draw(st.integers(0, 7))]))
    kwargs: dict[str, Any] = {
        "in_channels": channels,
        "out_channels": out_channels,
        "kernel_size": draw(st.one_of(MOSTLY_POSITIVE, st.lists(MOSTLY_POSITIVE, min_size=nd, max_size=nd),
                                      st.lists(st.integers(1, 3), min_size=1, max_size=1))),
        "groups": groups,
        "bias": draw(st.booleans()),
    }
    if draw(st.booleans()):
        kwargs["stride"] = per_dim(draw, nd, st.sampled_from([1, 1, 2, 2, 3, 0, -1]))
    if draw(st.booleans()):
        kwargs["dilation"] = per_dim(draw, nd, st.sampled_from([1, 1, 2, 3, 0]))
    if transposed:
        if draw(st.booleans()):
            kwargs["padding"] = per_dim(draw, nd, st.integers(-1, 3))
        if draw(st.booleans()):
            kwargs["output_padding"] = per_dim(draw, nd, st.integers(-1, 3))
        if draw(st.floats(0, 1)) < 0.05:
            kwargs["padding_mode"] = "reflect"
    else:
        if draw(st.booleans()):
            kwargs["padding"] = draw(st.one_of(
                st.sampled_from(["same", "valid"]), st.integers(-1, 4),
                st.lists(st.integers(-1, 4), min_size=nd, max_size=nd)))
        if draw(st.floats(0, 1)) < 0.35:
            kwargs["padding_mode"] = draw(st.sampled_from(["reflect", "replicate", "circular"]))
    spec_args = dict(kwargs)
    roll = draw(st.floats(0, 1))
    if roll < 0.8:
        del spec_args["in_channels"]  # inferred, as specs usually leave it
    elif roll < 0.9:
        kwargs["in_channels"] = spec_args["in_channels"] = channels + 1  # a wrong declared value
    return kwargs, spec_args, shape


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "transposed"])
@fast(500)
@given(data=st.data())
def test_conv_matches_torch(nd: int, transposed: bool, data: Any) -> None:
    kwargs, spec_args, shape = data.draw(conv_cases(nd, transposed))
    name = f"ConvTranspose{nd}d" if transposed else f"Conv{nd}d"
    # ATen picks oneDNN for 1x1 unstrided undilated convs only when torch runs multi-threaded, as it
    # does by default on a multi-core machine (convcalc models that); elsewhere the thread count is moot
    with torch_threads(conv_threads(kwargs)):
        check_layer(name, kwargs, shape, spec_args)


def conv_threads(kwargs: dict[str, Any]) -> int:
    def ones(value: Any) -> bool:
        return all(v == 1 for v in value) if isinstance(value, list) else value == 1

    return 2 if all(ones(kwargs.get(key, 1)) for key in ("kernel_size", "stride", "dilation")) else 1


# --------------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------------


@st.composite
def window_pool_cases(draw: Any, kind: str, nd: int) -> tuple[dict[str, Any], tuple[int, ...]]:
    shape = draw(input_shape(nd))
    values = st.one_of(st.integers(1, 4), st.integers(1, 4), st.integers(-1, 0))
    kwargs: dict[str, Any] = {"kernel_size": per_dim(draw, nd, values, single=0.6)}
    if kind == "LPPool":
        kwargs = {"norm_type": draw(st.sampled_from([1.0, 2.0, 3.5, float("inf")])),
                  "kernel_size": draw(values) if nd == 1 or draw(st.booleans())
                  else draw(st.lists(values, min_size=nd, max_size=nd))}
    if draw(st.booleans()):
        kwargs["stride"] = per_dim(draw, nd, st.sampled_from([1, 2, 2, 3, 0, -1]))
    if kind != "LPPool" and draw(st.booleans()):
        kwargs["padding"] = per_dim(draw, nd, st.integers(-1, 3))
    if kind == "MaxPool" and draw(st.booleans()):
        kwargs["dilation"] = per_dim(draw, nd, st.sampled_from([1, 1, 2, 3, 0]))
    if draw(st.booleans()):
        kwargs["ceil_mode"] = draw(st.booleans())
    if kind == "AvgPool":
        if draw(st.booleans()):
            kwargs["count_include_pad"] = draw(st.booleans())
        if nd > 1 and draw(st.floats(0, 1)) < 0.25:
            kwargs["divisor_override"] = draw(st.integers(-1, 3))
    return kwargs, shape


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kind", ["MaxPool", "AvgPool", "LPPool"])
@fast(400)
@given(data=st.data())
def test_window_pool_matches_torch(kind: str, nd: int, data: Any) -> None:
    kwargs, shape = data.draw(window_pool_cases(kind, nd))
    check_layer(f"{kind}{nd}d", kwargs, shape)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kind", ["AdaptiveAvgPool", "AdaptiveMaxPool"])
@fast(300)
@given(data=st.data())
def test_adaptive_pool_matches_torch(kind: str, nd: int, data: Any) -> None:
    shape = data.draw(input_shape(nd))
    size = st.integers(-1, 8)
    output_size: Any = data.draw(st.one_of(
        size, st.lists(st.one_of(size, st.none()), min_size=nd, max_size=nd),
        st.lists(size, min_size=1, max_size=1)))
    check_layer(f"{kind}{nd}d", {"output_size": output_size}, shape)


def test_return_indices_is_rejected_clearly() -> None:
    for type_name, args in (("MaxPool2d", {"kernel_size": 2}), ("AdaptiveMaxPool2d", {"output_size": 2})):
        with pytest.raises(SpecError, match="return_indices"):
            convcalc.analyze({"input": [1, 2, 8, 8], "layers": [{"type": type_name, **args, "return_indices": True}]})


def test_pool_ambiguity_lists_equivalent_inputs() -> None:
    report = convcalc.analyze({"input": [1, 1, 7, 8], "layers": [{"type": "MaxPool2d", "kernel_size": 2}]}).layers[0]
    assert report.ambiguity == {"equivalent_input_sizes": [[6, 7], [8, 9]]}
    for n in (6, 7):
        assert nn.MaxPool2d(2)(torch.zeros(1, 1, n, 8)).shape[-2] == 3


# --------------------------------------------------------------------------------------------------
# Every other single-input family: random (often invalid) arguments and ranks
# --------------------------------------------------------------------------------------------------

Case = tuple[str, dict[str, Any], dict[str, Any], tuple[int, ...]]  # type, torch kwargs, spec args, input


@st.composite
def any_rank_shape(draw: Any, low: int = 0, high: int = 3, size: int = 4) -> tuple[int, ...]:
    return draw(input_shape(draw(st.integers(low, high)), max_size=size))


@st.composite
def upsample_cases(draw: Any) -> Case:
    shape = draw(any_rank_shape(0, 3, 5))
    spatial = max(len(shape) - 2, 1)
    kind = draw(st.sampled_from(["Upsample"] * 6 + ["UpsamplingNearest2d", "UpsamplingBilinear2d"]))
    scales = st.sampled_from([2, 3, 2.0, 0.5, 1.5, 2.5, 1 / 3, 0.7, 1.1, 1.0, 0.3, 0, -1.0, 1.25])
    sizes = st.integers(-1, 7)
    kwargs: dict[str, Any] = {}
    which = draw(st.sampled_from(["size", "scale", "scale", "both", "neither"] if kind == "Upsample"
                                 else ["size", "scale"]))
    if which in ("size", "both"):
        kwargs["size"] = draw(st.one_of(sizes, st.lists(sizes, min_size=spatial, max_size=spatial),
                                        st.lists(sizes, min_size=1, max_size=3)))
    if which in ("scale", "both"):
        kwargs["scale_factor"] = draw(st.one_of(scales, st.lists(scales, min_size=spatial, max_size=spatial)))
    if kind == "Upsample":
        kwargs["mode"] = draw(st.sampled_from(
            ["nearest", "nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact", "area"]))
        if draw(st.floats(0, 1)) < 0.3:
            kwargs["align_corners"] = draw(st.booleans())
        if draw(st.floats(0, 1)) < 0.2:
            kwargs["recompute_scale_factor"] = draw(st.booleans())
    return kind, kwargs, kwargs, shape


@st.composite
def pad_cases(draw: Any) -> Case:
    prefix = draw(st.sampled_from(["ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad"]))
    nd = draw(st.integers(1, 3))
    shape = draw(any_rank_shape(0, 3, 5))
    pads = st.one_of(st.integers(0, 3), st.integers(-3, 4))
    padding = draw(st.one_of(pads, st.lists(pads, min_size=2 * nd, max_size=2 * nd),
                             st.lists(pads, min_size=1, max_size=6)))
    kwargs: dict[str, Any] = {"padding": padding}
    if prefix == "ConstantPad":
        kwargs["value"] = draw(st.sampled_from([0.0, 1.5, -2.0]))
    return f"{prefix}{nd}d", kwargs, kwargs, shape


@st.composite
def norm_cases(draw: Any) -> Case:
    kind = draw(st.sampled_from(["BatchNorm", "InstanceNorm", "GroupNorm", "LayerNorm", "RMSNorm",
                                 "LocalResponseNorm"]))
    shape = draw(any_rank_shape(0, 3, 3))
    channels = shape[1]
    if kind in ("BatchNorm", "InstanceNorm"):
        nd = draw(st.integers(1, 3))
        features = channels if draw(st.floats(0, 1)) < 0.85 else channels + 1
        kwargs: dict[str, Any] = {"num_features": features, "affine": draw(st.booleans()),
                                  "track_running_stats": draw(st.booleans()), "bias": draw(st.booleans()),
                                  "momentum": draw(st.sampled_from([0.1, None])), "eps": 1e-3}
        spec = dict(kwargs)
        if features == channels and draw(st.booleans()):
            del spec["num_features"]
        if kind == "InstanceNorm" and len(shape) == nd + 1:
            # unbatched: the feature dim is dim 0; torch needs num_features to say so
            kwargs["num_features"] = spec["num_features"] = shape[0] if features == channels else features
        return f"{kind}{nd}d", kwargs, spec, shape
    if kind == "GroupNorm":
        groups = draw(st.sampled_from([1, 2, 3, 4, channels, channels, 0, -1, -2]))
        declared = channels if draw(st.floats(0, 1)) < 0.85 else draw(st.integers(1, 8))
        kwargs = {"num_groups": groups, "num_channels": declared, "affine": draw(st.booleans()),
                  "bias": draw(st.booleans())}
        spec = dict(kwargs)
        if declared == channels and draw(st.booleans()):
            del spec["num_channels"]
        return kind, kwargs, spec, shape
    if kind in ("LayerNorm", "RMSNorm"):
        count = draw(st.integers(1, len(shape)))
        normalized: Any = list(shape[len(shape) - count:])
        roll = draw(st.floats(0, 1))
        if roll < 0.15:
            normalized[0] += 1
        elif roll < 0.25:
            normalized = [draw(st.integers(1, 4))] + normalized
        if len(normalized) == 1 and draw(st.booleans()):
            normalized = normalized[0]
        kwargs = {"normalized_shape": normalized, "elementwise_affine": draw(st.booleans())}
        if kind == "LayerNorm":
            kwargs["bias"] = draw(st.booleans())
        return kind, kwargs, kwargs, shape
    kwargs = {"size": draw(st.integers(-1, 5)), "alpha": 1e-3, "beta": 0.5, "k": 2.0}
    return kind, kwargs, kwargs, shape


_ACTIVATION_ARGS: dict[str, Callable[[Any, tuple[int, ...]], dict[str, Any]]] = {
    "ReLU": lambda d, s: {"inplace": d(st.booleans())},
    "ReLU6": lambda d, s: {},
    "LeakyReLU": lambda d, s: {"negative_slope": d(st.sampled_from([0.01, 0.2, -1.0]))},
    "PReLU": lambda d, s: {"num_parameters": d(st.sampled_from([1, 1, s[1], s[1] + 1, 0]))},
    "ELU": lambda d, s: {"alpha": d(st.sampled_from([1.0, 0.5, -1.0]))},
    "SELU": lambda d, s: {},
    "CELU": lambda d, s: {"alpha": d(st.sampled_from([1.0, 0.5, 0.0]))},
    "GELU": lambda d, s: {"approximate": d(st.sampled_from(["none", "tanh"]))},
    "SiLU": lambda d, s: {}, "Mish": lambda d, s: {}, "Sigmoid": lambda d, s: {}, "Tanh": lambda d, s: {},
    "LogSigmoid": lambda d, s: {}, "Softsign": lambda d, s: {}, "Tanhshrink": lambda d, s: {},
    "Hardswish": lambda d, s: {}, "Hardsigmoid": lambda d, s: {},
    "Hardtanh": lambda d, s: {"min_val": d(st.sampled_from([-1.0, 0.0, 2.0])),
                              "max_val": d(st.sampled_from([1.0, 2.0, 0.0]))},
    "RReLU": lambda d, s: {"lower": d(st.sampled_from([0.1, 0.4])), "upper": d(st.sampled_from([0.3, 0.5]))},
    "Softplus": lambda d, s: {"beta": d(st.sampled_from([1.0, 2.0])), "threshold": 10.0},
    "Softshrink": lambda d, s: {"lambd": d(st.sampled_from([0.5, 0.0, -0.5]))},
    "Hardshrink": lambda d, s: {"lambd": d(st.sampled_from([0.5, -0.5]))},
    "Threshold": lambda d, s: {"threshold": 0.1, "value": -1.0},
    "Softmax": lambda d, s: {"dim": d(st.one_of(st.none(), st.integers(-6, 5)))},
    "LogSoftmax": lambda d, s: {"dim": d(st.one_of(st.none(), st.integers(-6, 5)))},
    "Softmin": lambda d, s: {"dim": d(st.one_of(st.none(), st.integers(-6, 5)))},
    "Softmax2d": lambda d, s: {},
    "GLU": lambda d, s: {"dim": d(st.integers(-6, 5))},
}


@st.composite
def activation_cases(draw: Any) -> Case:
    kind = draw(st.sampled_from(sorted(_ACTIVATION_ARGS)))
    shape = draw(any_rank_shape(0, 3, 4))
    kwargs = _ACTIVATION_ARGS[kind](draw, shape)
    return kind, kwargs, kwargs, shape


@st.composite
def reshape_cases(draw: Any) -> Case:
    kind = draw(st.sampled_from(["Linear", "Linear", "Flatten", "Unflatten", "Identity", "Dropout", "Dropout1d",
                                 "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]))
    shape = draw(any_rank_shape(0, 3, 4))
    rank = len(shape)
    if kind == "Linear":
        features = shape[-1] if draw(st.floats(0, 1)) < 0.85 else shape[-1] + 1
        kwargs: dict[str, Any] = {"in_features": features, "out_features": draw(st.integers(-1, 5)),
                                  "bias": draw(st.booleans())}
        spec = dict(kwargs)
        if features == shape[-1] and draw(st.booleans()):
            del spec["in_features"]
        return kind, kwargs, spec, shape
    if kind == "Flatten":
        kwargs = {"start_dim": draw(st.integers(-rank - 1, rank)), "end_dim": draw(st.integers(-rank - 1, rank))}
        return kind, kwargs, kwargs, shape
    if kind == "Unflatten":
        dim = draw(st.integers(-rank - 1, rank))
        n = shape[dim] if -rank <= dim < rank else 4
        factor = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
        sizes = [factor, n // factor]
        roll = draw(st.floats(0, 1))
        if roll < 0.3:
            sizes[draw(st.integers(0, 1))] = -1
        elif roll < 0.4:
            sizes = [-1, -1]
        elif roll < 0.5:
            sizes[0] += 1
        elif roll < 0.6:
            sizes = [n]
        return kind, {"dim": dim, "unflattened_size": sizes}, {"dim": dim, "unflattened_size": sizes}, shape
    if kind == "Identity":
        return kind, {}, {}, shape
    kwargs = {"p": draw(st.sampled_from([0.0, 0.5, 1.0, 0.2, -0.1, 1.5])), "inplace": draw(st.booleans())}
    return kind, kwargs, kwargs, shape


@st.composite
def shuffle_cases(draw: Any) -> Case:
    kind = draw(st.sampled_from(["PixelShuffle", "PixelUnshuffle", "ChannelShuffle"]))
    nd = draw(st.integers(0, 3))
    shape = (draw(st.integers(1, 2)), draw(st.sampled_from([1, 2, 4, 6, 8, 9, 12])),
             *draw(st.lists(st.sampled_from([1, 2, 3, 4, 6]), min_size=nd, max_size=nd)))
    arg = {"PixelShuffle": "upscale_factor", "PixelUnshuffle": "downscale_factor", "ChannelShuffle": "groups"}[kind]
    kwargs = {arg: draw(st.sampled_from([1, 2, 2, 3, 4, 0, -1]))}
    return kind, kwargs, kwargs, shape


FAMILIES = {"upsample": upsample_cases, "pad": pad_cases, "norm": norm_cases, "activation": activation_cases,
            "reshape": reshape_cases, "shuffle": shuffle_cases}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@fast(500)
@given(data=st.data())
def test_family_matches_torch(family: str, data: Any) -> None:
    kind, kwargs, spec_args, shape = data.draw(FAMILIES[family]())
    check_layer(kind, kwargs, shape, spec_args)


def test_identity_takes_no_arguments() -> None:
    # torch.nn.Identity swallows any argument; convcalc refuses, so nothing a spec says is silently ignored
    with pytest.raises(SpecError, match="no argument"):
        convcalc.analyze({"input": [1, 2, 4], "layers": [{"type": "Identity", "p": 0.5}]})


# --------------------------------------------------------------------------------------------------
# Graph layers: inputs of chosen shapes, made by 1x1 convs (channels) and adaptive pools (sizes)
# --------------------------------------------------------------------------------------------------


def _crop_reference(*xs: torch.Tensor, size: Sequence[int] | None = None) -> torch.Tensor:
    """U-Net's centre crop, written independently of convcalc: offset (n - t) // 2 in each spatial dim."""
    x = xs[0]
    target = list(xs[1].shape[2:]) if len(xs) > 1 else list(size or [])
    if len(target) == 1 and x.dim() - 2 > 1 and len(xs) == 1:
        target = target * (x.dim() - 2)
    if len(target) != x.dim() - 2 or x.dim() < 3 or (len(xs) > 1 and xs[1].dim() != x.dim()):
        raise ValueError("rank")
    for i, (n, t) in enumerate(zip(x.shape[2:], target)):
        if not 0 <= t <= n:
            raise ValueError("larger")
        x = x[(slice(None),) * (i + 2) + (slice((n - t) // 2, (n - t) // 2 + t),)]
    return x


class _Branches(nn.Module):
    def __init__(self, branches: Sequence[nn.Module], merge: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.merge = merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.merge(*[b(x) for b in self.branches])


@st.composite
def merge_cases(draw: Any, kind: str) -> tuple[dict[str, Any], Callable[[], nn.Module], tuple[int, ...]]:
    nd = draw(st.integers(0 if kind != "Crop" else 1, 3))
    shape = draw(input_shape(nd, max_size=5, channels=3))
    count = (draw(st.integers(1, 2)) if kind == "Crop" else 2 if kind in ("Sub", "Div")
             else draw(st.integers(2, 3)))
    base_c = draw(st.integers(1, 3))
    base_s = draw(st.lists(st.integers(1, 5), min_size=nd, max_size=nd))
    layers: list[dict[str, Any]] = []
    torch_branches: list[nn.Module] = []
    for i in range(count):
        channels = base_c if draw(st.floats(0, 1)) < 0.6 else draw(st.integers(1, 4))
        sizes = [s if draw(st.floats(0, 1)) < 0.6 else draw(st.integers(1, 6)) for s in base_s]
        if nd == 0:
            layers.append({"name": f"b{i}", "type": "Linear", "out_features": channels, "inputs": "input"})
            torch_branches.append(nn.Linear(shape[1], channels))
            continue
        layers.append({"name": f"b{i}c", "type": f"Conv{nd}d", "out_channels": channels, "kernel_size": 1,
                       "inputs": "input"})
        layers.append({"name": f"b{i}", "type": f"AdaptiveAvgPool{nd}d", "output_size": sizes})
        torch_branches.append(nn.Sequential(getattr(nn, f"Conv{nd}d")(shape[1], channels, 1),
                                            getattr(nn, f"AdaptiveAvgPool{nd}d")(tuple(sizes))))
    merge: dict[str, Any] = {"type": kind, "inputs": [f"b{i}" for i in range(count)]}
    function: Callable[..., torch.Tensor]
    if kind in ("Add", "Mul", "Sub", "Div"):
        function = lambda *xs: functools.reduce(getattr(torch, kind.lower()), xs)  # noqa: E731
    elif kind == "Concat":
        dim = draw(st.integers(-len(shape) - 1, len(shape)))
        merge["dim"] = dim
        function = lambda *xs: torch.cat(xs, dim)  # noqa: E731
    else:
        size = None
        if count == 1:
            size = draw(st.one_of(st.integers(-1, 6), st.lists(st.integers(0, 6), min_size=1, max_size=3)))
            merge["size"] = size
        function = functools.partial(_crop_reference, size=[size] if isinstance(size, int) else size)
    spec = {"input": list(shape), "layers": layers + [merge]}
    return spec, lambda: _Branches(torch_branches, function), shape


@pytest.mark.parametrize("kind", ["Add", "Concat", "Crop"])
@fast(250)
@given(data=st.data())
def test_merge_matches_torch(kind: str, data: Any) -> None:
    spec, make, shape = data.draw(merge_cases(kind))
    result = analyse(spec)
    outcome, module = torch_outcome(make, [shape])
    context = f"{spec}: convcalc -> {result}, torch -> {outcome!r}"
    assert isinstance(result, SpecError) == (module is None), context
    if isinstance(result, SpecError):
        return
    assert result.output_shape == outcome, context
    net = convcalc.build(result)  # the graph as convcalc wires it, with torch_backend.modules
    assert tuple(_run(net, torch.randn(*shape)).shape) == outcome
    report = result.layers[-1]
    assert (report.params, report.buffers, report.macs) == (0, 0, 0)


# --------------------------------------------------------------------------------------------------
# fvcore_flops and torch_flops against the real counters
# --------------------------------------------------------------------------------------------------


def measure_flops(module: nn.Module, shapes: Sequence[Sequence[int]]) -> tuple[int, int]:
    """(fvcore FlopCountAnalysis total, FlopCounterMode total) for one eval-mode forward."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore's import touches the deprecated torch.jit.script
        from fvcore.nn import FlopCountAnalysis
    from torch.utils.flop_counter import FlopCounterMode

    module = module.eval()
    xs = tuple(torch.randn(*s) for s in shapes)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with FlopCounterMode(display=False) as counter:
            module(*xs)
        analysis = FlopCountAnalysis(module, xs)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        fvcore_total = analysis.total()
    return int(fvcore_total), int(counter.get_total_flops())


def assert_flops_match(result: Analysis, module: nn.Module, shape: Sequence[int]) -> None:
    fvcore_total, torch_total = measure_flops(module, [shape])
    expected_fvcore = result.totals["fvcore_flops"]
    # The one allowed deviation: real fvcore has no handle for a convolution with padding='same'/'valid'
    # (aten::_convolution_mode) and counts 0; convcalc counts it as the equal integer padding, and says so.
    uncounted = sum(r.fvcore_flops for r in result.layers if r.layer.fvcore_note())
    assert all(r.notes for r in result.layers if r.layer.fvcore_note())
    context = f"{[(r.type, dict(r.args)) for r in result.layers]} on {list(shape)}"
    assert fvcore_total == expected_fvcore - uncounted, context
    assert torch_total == result.totals["torch_flops"], context


@st.composite
def conv_case_any(draw: Any) -> Case:
    nd, transposed = draw(st.integers(1, 3)), draw(st.booleans())
    kwargs, spec_args, shape = draw(conv_cases(nd, transposed))
    return (f"ConvTranspose{nd}d" if transposed else f"Conv{nd}d"), kwargs, spec_args, shape


@st.composite
def pool_case_any(draw: Any) -> Case:
    nd = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["MaxPool", "AvgPool", "LPPool", "AdaptiveAvgPool", "AdaptiveMaxPool"]))
    if kind.startswith("Adaptive"):
        shape = draw(input_shape(nd))
        kwargs: dict[str, Any] = {"output_size": draw(st.one_of(
            st.integers(0, 6), st.lists(st.one_of(st.integers(1, 6), st.none()), min_size=nd, max_size=nd)))}
        if nd == 1 and kwargs["output_size"] is not None and not isinstance(kwargs["output_size"], int):
            kwargs["output_size"] = [s or 1 for s in kwargs["output_size"]]
    else:
        kwargs, shape = draw(window_pool_cases(kind, nd))
    return f"{kind}{nd}d", kwargs, kwargs, shape


FLOP_FAMILIES: dict[str, Callable[[], st.SearchStrategy[Case]]] = {
    **FAMILIES, "conv": conv_case_any, "pool": pool_case_any}


@pytest.mark.parametrize("family", sorted(FLOP_FAMILIES))
@fast(80)
@given(data=st.data())
def test_flops_match_fvcore_and_flopcounter(family: str, data: Any) -> None:
    kind, kwargs, spec_args, shape = data.draw(FLOP_FAMILIES[family]())
    result = analyse({"input": list(shape), "layers": [{"type": kind, **spec_args}]})
    assume(not isinstance(result, SpecError))
    assert isinstance(result, Analysis)
    with torch_threads(conv_threads(kwargs) if kind.startswith("Conv") else 1):
        assert_flops_match(result, quiet_build(result.layers[0]), shape)


@pytest.mark.parametrize("kind", ["Add", "Concat", "Crop"])
@fast(40)
@given(data=st.data())
def test_graph_flops_match_fvcore_and_flopcounter(kind: str, data: Any) -> None:
    spec, make, shape = data.draw(merge_cases(kind))
    result = analyse(spec)
    assume(not isinstance(result, SpecError))
    assert isinstance(result, Analysis)
    torch.manual_seed(0)
    assert_flops_match(result, make(), shape)  # the hand-built twin
    assert_flops_match(result, convcalc.build(result), shape)  # and convcalc's own wiring


class _Residual(nn.Module):
    """A hand-written residual block with a U-Net style crop-and-concat, for whole-graph totals."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.down = nn.Conv2d(8, 8, 3, stride=2)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.head = nn.Linear(12 * 14 * 14, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(self.bn1(self.conv1(x)))
        b = self.conv2(a) + a
        up = self.up(self.down(b))
        skip = b[:, :, 1:15, 1:15]
        return self.head(torch.flatten(torch.cat([skip, up], 1), 1))


def test_residual_unet_graph_totals_match_torch() -> None:
    spec = {"input": [2, 3, 16, 16], "layers": [
        {"name": "conv1", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "BatchNorm2d"}, {"name": "a", "type": "ReLU"},
        {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False},
        {"name": "b", "type": "Add", "inputs": ["prev", "a"]},
        {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "stride": 2},
        {"name": "up", "type": "ConvTranspose2d", "out_channels": 4, "kernel_size": 2, "stride": 2},
        {"name": "skip", "type": "Crop", "inputs": ["b", "up"]},
        {"type": "Concat", "inputs": ["skip", "up"]},
        {"type": "Flatten"}, {"type": "Linear", "out_features": 10},
    ]}
    result = convcalc.analyze(spec)
    twin = _Residual()
    assert result.output_shape == tuple(_run(twin, torch.randn(2, 3, 16, 16)).shape)
    assert result.totals["params"] == numel(twin.parameters())
    assert result.totals["buffers"] == numel(twin.buffers())
    assert_flops_match(result, twin, (2, 3, 16, 16))
    assert_flops_match(result, convcalc.build(result), (2, 3, 16, 16))


# --------------------------------------------------------------------------------------------------
# Conformance: every registered layer type has a sample that passes every check against torch
# --------------------------------------------------------------------------------------------------

X1, X2, X3 = [2, 4, 9], [2, 4, 9, 8], [1, 4, 6, 5, 7]
SAMPLES: dict[str, tuple[list[int], dict[str, Any]]] = {
    # conv
    "Conv1d": (X1, {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1}),
    "Conv2d": (X2, {"out_channels": 6, "kernel_size": [3, 2], "dilation": 2, "groups": 2}),
    "Conv3d": (X3, {"out_channels": 2, "kernel_size": 3, "padding": "same", "padding_mode": "reflect"}),
    "ConvTranspose1d": (X1, {"out_channels": 3, "kernel_size": 4, "stride": 2, "padding": 1}),
    "ConvTranspose2d": (X2, {"out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 1}),
    "ConvTranspose3d": (X3, {"out_channels": 2, "kernel_size": 2, "stride": 2, "groups": 2}),
    # pooling
    "MaxPool1d": (X1, {"kernel_size": 3, "stride": 2, "ceil_mode": True}),
    "MaxPool2d": (X2, {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2}),
    "MaxPool3d": (X3, {"kernel_size": 2}),
    "AvgPool1d": (X1, {"kernel_size": 2, "padding": 1, "count_include_pad": False}),
    "AvgPool2d": (X2, {"kernel_size": 3, "stride": 2, "ceil_mode": True, "divisor_override": 2}),
    "AvgPool3d": (X3, {"kernel_size": [2, 3, 3], "padding": 1}),
    "LPPool1d": (X1, {"norm_type": 2.0, "kernel_size": 3}),
    "LPPool2d": (X2, {"norm_type": 1.5, "kernel_size": [2, 3], "stride": 1}),
    "LPPool3d": (X3, {"norm_type": 2.0, "kernel_size": 2, "ceil_mode": True}),
    "AdaptiveAvgPool1d": (X1, {"output_size": 4}),
    "AdaptiveAvgPool2d": (X2, {"output_size": [None, 3]}),
    "AdaptiveAvgPool3d": (X3, {"output_size": [2, 4, 3]}),
    "AdaptiveMaxPool1d": (X1, {"output_size": 5}),
    "AdaptiveMaxPool2d": (X2, {"output_size": 3}),
    "AdaptiveMaxPool3d": (X3, {"output_size": [None, 2, 2]}),
    # normalisation
    "BatchNorm1d": (X1, {"momentum": None}),
    "BatchNorm2d": (X2, {"affine": False}),
    "BatchNorm3d": (X3, {"track_running_stats": False}),
    "InstanceNorm1d": (X1, {"affine": True}),
    "InstanceNorm2d": (X2, {"track_running_stats": True}),
    "InstanceNorm3d": (X3, {}),
    "GroupNorm": (X2, {"num_groups": 2}),
    "LayerNorm": (X2, {"normalized_shape": [9, 8], "bias": False}),
    "RMSNorm": (X2, {"normalized_shape": 8}),
    "LocalResponseNorm": (X2, {"size": 3}),
    # activations
    "ReLU": (X2, {"inplace": True}), "ReLU6": (X1, {}), "LeakyReLU": (X2, {"negative_slope": 0.2}),
    "PReLU": (X2, {"num_parameters": 4}), "ELU": (X1, {"alpha": 0.5}), "SELU": (X1, {}), "CELU": (X1, {}),
    "GELU": (X2, {"approximate": "tanh"}), "SiLU": (X2, {}), "Mish": (X2, {}), "Sigmoid": (X1, {}),
    "Tanh": (X1, {}), "Hardtanh": (X1, {"min_val": -2.0, "max_val": 2.0}), "Hardswish": (X2, {}),
    "Hardsigmoid": (X2, {}), "Softplus": (X1, {"beta": 2.0}), "Softmax": (X2, {"dim": 1}),
    "LogSoftmax": (X2, {"dim": -1}), "Softmin": (X1, {"dim": 1}), "Softmax2d": (X2, {}),
    "LogSigmoid": (X1, {}), "Softsign": (X1, {}), "Tanhshrink": (X1, {}), "Softshrink": (X1, {"lambd": 0.3}),
    "Hardshrink": (X1, {}), "Threshold": (X1, {"threshold": 0.1, "value": 0.0}),
    "RReLU": (X1, {"lower": 0.1, "upper": 0.2}), "GLU": (X2, {"dim": 1}),
    # reshaping, linear, dropout
    "Linear": (X2, {"out_features": 5}), "Flatten": (X3, {"start_dim": 2}),
    "Unflatten": (X2, {"dim": 1, "unflattened_size": [2, -1]}), "Identity": (X1, {}),
    "Dropout": (X2, {"p": 0.3}), "Dropout1d": (X1, {}), "Dropout2d": (X2, {}), "Dropout3d": (X3, {}),
    "AlphaDropout": (X1, {}), "FeatureAlphaDropout": (X2, {}),
    # resizing and padding
    "Upsample": (X2, {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True}),
    "UpsamplingNearest2d": (X2, {"size": [12, 10]}), "UpsamplingBilinear2d": (X2, {"scale_factor": 2}),
    "ZeroPad1d": (X1, {"padding": [2, -1]}), "ZeroPad2d": (X2, {"padding": [1, 0, 2, 3]}),
    "ZeroPad3d": (X3, {"padding": 1}), "ConstantPad1d": (X1, {"padding": 2, "value": 1.5}),
    "ConstantPad2d": (X2, {"padding": [1, 1, 0, 2], "value": -1.0}),
    "ConstantPad3d": (X3, {"padding": [0, 1, 1, 0, 1, 1], "value": 0.5}),
    "ReflectionPad1d": (X1, {"padding": 3}), "ReflectionPad2d": (X2, {"padding": [1, 2, 3, 0]}),
    "ReflectionPad3d": (X3, {"padding": 2}), "ReplicationPad1d": (X1, {"padding": [4, 0]}),
    "ReplicationPad2d": (X2, {"padding": 2}), "ReplicationPad3d": (X3, {"padding": [1, 0, 0, 1, 2, 2]}),
    "CircularPad1d": (X1, {"padding": 2}), "CircularPad2d": (X2, {"padding": [1, 2, 0, 1]}),
    "CircularPad3d": (X3, {"padding": 1}),
    "PixelShuffle": (X2, {"upscale_factor": 2}), "PixelUnshuffle": ([1, 2, 6, 4], {"downscale_factor": 2}),
    "ChannelShuffle": (X2, {"groups": 2}),
    # tensor operations and ConvNeXt's pieces (twins in tests/torch_twins.py; more in test_layers_tensor.py)
    "Narrow": (X2, {"dim": -2, "start": -7, "length": 4}), "Permute": (X2, {"dims": [0, 2, 3, 1]}),
    "Transpose": (X3, {"dim0": 1, "dim1": -1}), "Reshape": (X2, {"shape": [-1, 2, 2, 72]}),
    "Mean": (X3, {"dim": [-1, 2], "keepdim": True}), "LayerNorm2d": (X2, {"eps": 1e-6}),
    "Scale": (X2, {"init_value": 1e-6}), "StochasticDepth": (X2, {"p": 0.2, "mode": "row"}),
}

# graph layers: a spec around them (no torch.nn class exists to build them from)
GRAPH_SAMPLES: dict[str, dict[str, Any]] = {
    "Add": {"input": X2, "layers": [
        {"name": "a", "type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"name": "g", "type": "AdaptiveAvgPool2d", "output_size": 1, "inputs": "input"},
        {"type": "Add", "inputs": ["a", "input", "g"]}]},
    "Concat": {"input": X2, "layers": [
        {"name": "a", "type": "Conv2d", "out_channels": 3, "kernel_size": 1},
        {"type": "Concat", "inputs": ["input", "a"], "dim": -3}]},
    "Crop": {"input": X2, "layers": [
        {"name": "small", "type": "MaxPool2d", "kernel_size": 2},
        {"type": "Crop", "inputs": ["input", "small"]}, {"type": "Crop", "size": [3, 2]}]},
    # multi-output layers: later layers read piece k as name.k
    "Split": {"input": X2, "layers": [
        {"name": "s", "type": "Split", "split_size_or_sections": [1, 3], "dim": 1},
        {"name": "conv", "type": "Conv2d", "inputs": "s.1", "out_channels": 2, "kernel_size": 3, "padding": 1},
        {"type": "Concat", "inputs": ["s.0", "conv"]}]},
    "Chunk": {"input": X2, "layers": [
        {"name": "c", "type": "Chunk", "chunks": 3, "dim": -2},
        {"type": "Concat", "inputs": ["c.2", "c.0", "c.1"], "dim": 2}]},
    "Mul": {"input": X2, "layers": [
        {"name": "gate", "type": "AdaptiveAvgPool2d", "output_size": 1},
        {"type": "Sigmoid"}, {"type": "Mul", "inputs": ["input", "prev", "input"]}]},
    "Sub": {"input": X2, "layers": [
        {"name": "avg", "type": "Mean", "dim": [2, 3], "keepdim": True},
        {"type": "Sub", "inputs": ["input", "avg"]}]},
    "Div": {"input": X2, "layers": [
        {"name": "norm", "type": "AdaptiveAvgPool2d", "output_size": [1, None]},
        {"type": "Div", "inputs": ["input", "norm"]}]},
}


def test_every_registered_type_has_a_sample() -> None:
    registered = {cls.type_name for cls in all_layer_types()}
    missing = sorted(registered - set(SAMPLES) - set(GRAPH_SAMPLES))
    assert not missing, f"layer types without a torch conformance sample in {__file__}: {missing}"
    assert not (set(SAMPLES) | set(GRAPH_SAMPLES)) - registered
    # composites expand into registered layers; each needs a torch twin test below
    composites = {cls.type_name for cls in COMPOSITES.values()}
    assert composites == {"DepthwiseSeparableConv1d", "DepthwiseSeparableConv2d", "DepthwiseSeparableConv3d",
                          "SpatiallySeparableConv2d"}, f"add a torch twin test for {sorted(composites)}"


@pytest.mark.parametrize("type_name", sorted(SAMPLES))
def test_sample_matches_torch(type_name: str) -> None:
    shape, args = SAMPLES[type_name]
    # torch's constructors need what convcalc infers (in_channels, num_features, ...): take it from the analysis
    inferred_names = [a.name for a in lookup(type_name).args if a.inferred]
    resolved = convcalc.analyze({"input": shape, "layers": [{"type": type_name, **args}]}).layers[0].args
    torch_kwargs = {**{n: resolved[n] for n in inferred_names}, **args}
    twin = TWINS.get(type_name)  # a type that torch.nn has no class for
    result = check_layer(type_name, torch_kwargs, shape, spec_args=args,
                         make=functools.partial(twin, **torch_kwargs) if twin else None)
    assert isinstance(result, Analysis), result
    report = result.layers[0]
    assert report.layer.flops_rule, f"{type_name} documents no flops_rule"
    with torch_threads(2):
        assert_flops_match(result, quiet_build(report), shape)


@pytest.mark.parametrize("type_name", sorted(GRAPH_SAMPLES))
def test_graph_sample_matches_torch(type_name: str) -> None:
    result = convcalc.analyze(GRAPH_SAMPLES[type_name])
    net = convcalc.build(result)
    captured: dict[str, Any] = {}
    for name, module in net.named_layers():
        module.register_forward_hook(lambda m, i, o, name=name: captured.__setitem__(
            name, tuple(tuple(p.shape) for p in o) if isinstance(o, tuple) else tuple(o.shape)))
    _run(net, torch.randn(*result.input_shape))
    assert {r.name: r.output_shapes or r.output_shape for r in result.layers} == captured
    assert result.totals["params"] == numel(net.parameters())
    assert_flops_match(result, net, result.input_shape)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_depthwise_separable_expands_to_its_torch_twin(nd: int) -> None:
    shape = [X1, X2, X3][nd - 1]
    spec = {"input": shape, "layers": [{"name": "ds", "type": f"DepthwiseSeparableConv{nd}d", "out_channels": 6,
                                        "kernel_size": 3, "stride": 2, "padding": 1, "depth_multiplier": 2}]}
    result = convcalc.analyze(spec)
    assert [r.name for r in result.layers] == ["ds.depthwise", "ds.pointwise"]
    conv = getattr(nn, f"Conv{nd}d")
    twin = nn.Sequential(conv(4, 8, 3, stride=2, padding=1, groups=4), conv(8, 6, 1))
    assert result.output_shape == tuple(_run(twin, torch.randn(*shape)).shape)
    assert result.totals["params"] == numel(twin.parameters())
    assert_flops_match(result, twin, shape)


def test_spatially_separable_expands_to_its_torch_twin() -> None:
    spec = {"input": X2, "layers": [{"name": "ss", "type": "SpatiallySeparableConv2d", "out_channels": 5,
                                     "kernel_size": [3, 5], "stride": [2, 1], "padding": [1, 2]}]}
    result = convcalc.analyze(spec)
    twin = nn.Sequential(nn.Conv2d(4, 5, (3, 1), stride=(2, 1), padding=(1, 0)),
                         nn.Conv2d(5, 5, (1, 5), stride=(1, 1), padding=(0, 2)))
    assert [r.name for r in result.layers] == ["ss.vertical", "ss.horizontal"]
    assert result.output_shape == tuple(_run(twin, torch.randn(*X2)).shape)
    assert result.totals["params"] == numel(twin.parameters())
    assert_flops_match(result, twin, X2)


def test_composite_rejects_unknown_arguments() -> None:
    with pytest.raises(SpecError, match="no argument 'kernel'"):
        convcalc.analyze({"input": X2, "layers": [{"type": "DepthwiseSeparableConv2d", "out_channels": 4,
                                                   "kernel": 3}]})
