"""convcalc.build and convcalc.validate, proven against real PyTorch and fvcore on the CPU.

Every registered layer type is built and run (shapes by hooks, numel of parameters and buffers,
FlopCounterMode, fvcore, receptive fields by gradients), alone and in small graphs; the validator itself
is checked the other way round: deliberately wrong analytic numbers and expectations must be caught.
Property tests of single layers live in tests/test_layers_torch.py; these tests cover the whole-network
path: the builder, the graph module, the comparisons and the report.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import convcalc
from convcalc.analysis.core import analyze
from convcalc.cli import app
from convcalc.errors import SpecError
from convcalc.layers import all_layer_types
from convcalc.layers.base import COMPOSITES, lookup
from convcalc.torch_backend import DeviceError, MemoryRefused, build, validate
from convcalc.torch_backend.memory import estimate, peak_live_elements
from convcalc.torch_backend.rf_probe import WindowMean, make_probe

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

# -------------------------------------------------------------------------------------------------
# Samples: one network per layer type, found from the type's declared arguments
# -------------------------------------------------------------------------------------------------

# Values for required arguments, by name; the sampler tries input shapes until the analysis accepts one.
REQUIRED = {"out_channels": 6, "kernel_size": 3, "out_features": 5, "num_groups": 2, "size": 3,
            "threshold": 0.1, "value": 0.0, "norm_type": 2.0, "output_size": 2, "dim": 1,
            "unflattened_size": [2, 2], "padding": 1, "scale_factor": 2, "normalized_shape": [7, 7],
            "upscale_factor": 2, "downscale_factor": 2, "groups": 2, "num_parameters": 1, "p": 0.2,
            "start": 1, "length": 2, "dims": [0, 2, 3, 1], "dim0": 1, "dim1": 2, "shape": [2, -1],
            "chunks": 2, "split_size_or_sections": 3}


def _candidate_shapes(cls: type) -> list[list[int]]:
    ndim = cls.ndim
    dims = [ndim] if ndim else [2, 1, 3, 0]
    shapes = []
    for d in dims:
        for side in (7, 6, 8):
            shapes.append([2, 4] + [side] * d)
    return shapes


# Optional arguments to try, one at a time, when the defaults alone are not enough (one of size or
# scale_factor must be given to Upsample; Crop with one input needs a size).
OPTIONAL: list[dict[str, Any]] = [{}, {"scale_factor": 2}, {"size": [4, 5]}, {"size": [5]},
                                  {"size": [4, 4, 5]}]


def _single_input_spec(cls: type) -> dict[str, Any] | None:
    for shape in _candidate_shapes(cls):
        for extra in OPTIONAL:
            args = {a.name: REQUIRED[a.name] for a in cls.args if a.required and a.name in REQUIRED}
            args.update({k: v for k, v in extra.items() if k in cls.arg_names()})
            if extra and len(args) == len([a for a in cls.args if a.required]):
                continue  # this extra does not apply to the type
            if "normalized_shape" in args:
                args["normalized_shape"] = shape[-2:]
            spec = {"name": f"sample-{cls.type_name}", "input": shape,
                    "layers": [{"type": cls.type_name, **args}]}
            try:
                analyze(spec)
            except SpecError:
                continue
            return spec
    return None


def _merge_spec(cls: type) -> dict[str, Any] | None:
    # two branches off the input, same size first, then the first one larger (crops, pads)
    for kernels in ((1, 1), (1, 3), (3, 1)):
        for shape in ([2, 4, 8, 8], [2, 4, 9], [2, 4, 6, 6, 6]):
            conv = f"Conv{len(shape) - 2}d"
            spec = {"name": f"sample-{cls.type_name}", "input": shape, "layers": [
                {"name": "a", "type": conv, "out_channels": 4, "kernel_size": kernels[0]},
                {"name": "b", "type": conv, "out_channels": 4, "kernel_size": kernels[1], "inputs": "input"},
                {"name": "merge", "type": cls.type_name, "inputs": ["a", "b"]},
            ]}
            try:
                analyze(spec)
            except SpecError:
                continue
            return spec
    return None


def sample_specs(cls: type) -> list[dict[str, Any]]:
    """A network with one input for the layer (where it takes one) and one with two (where it takes two)."""
    specs = []
    if cls.min_inputs <= 1:
        specs.append(_single_input_spec(cls))
    if cls.max_inputs is None or cls.max_inputs >= 2:
        specs.append(_merge_spec(cls))
    return [s for s in specs if s is not None]


LAYER_TYPES = all_layer_types()

# Arguments beyond the defaults: the paths through a layer that a default sample does not take.
VARIANTS: list[tuple[str, list[int], dict[str, Any]]] = [
    ("Conv2d", [2, 4, 11, 9], {"out_channels": 6, "kernel_size": [3, 2], "stride": [2, 1], "padding": [1, 0],
                               "dilation": [2, 1], "groups": 2}),
    ("Conv2d", [1, 3, 10, 10], {"out_channels": 4, "kernel_size": 3, "padding": 2,
                                "padding_mode": "reflect"}),
    ("Conv2d", [1, 3, 10, 10], {"out_channels": 4, "kernel_size": 3, "padding": 1,
                                "padding_mode": "circular"}),
    ("Conv2d", [1, 3, 10, 10], {"out_channels": 4, "kernel_size": 4, "padding": "valid", "bias": False}),
    ("Conv1d", [2, 6, 17], {"out_channels": 6, "kernel_size": 5, "stride": 3, "groups": 6,
                            "padding_mode": "replicate", "padding": 2}),
    ("Conv3d", [1, 2, 6, 7, 8], {"out_channels": 3, "kernel_size": [1, 3, 3], "stride": [1, 2, 2]}),
    ("ConvTranspose2d", [1, 4, 5, 6], {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1,
                                       "output_padding": 1, "groups": 2}),
    ("ConvTranspose1d", [1, 4, 9], {"out_channels": 2, "kernel_size": 4, "stride": 3, "dilation": 2}),
    ("MaxPool2d", [1, 3, 11, 11], {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("MaxPool2d", [1, 3, 12, 12], {"kernel_size": 3, "stride": 2, "dilation": 2}),
    ("MaxPool1d", [2, 3, 10], {"kernel_size": 4, "stride": 3, "ceil_mode": True}),
    ("AvgPool2d", [1, 3, 11, 11], {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                                   "count_include_pad": False}),
    ("AvgPool2d", [1, 3, 8, 8], {"kernel_size": 2, "divisor_override": 3}),
    ("LPPool2d", [1, 3, 9, 9], {"norm_type": 3.0, "kernel_size": [2, 3], "stride": 2}),
    ("AdaptiveAvgPool2d", [1, 3, 12, 10], {"output_size": [3, None]}),
    ("AdaptiveMaxPool2d", [1, 3, 12, 10], {"output_size": 4}),
    ("BatchNorm2d", [2, 4, 5, 5], {"affine": False}),
    ("BatchNorm1d", [3, 5], {}),
    ("InstanceNorm2d", [2, 4, 5, 5], {"affine": True, "track_running_stats": True}),
    ("GroupNorm", [2, 6, 5, 5], {"num_groups": 3, "affine": False}),
    ("LayerNorm", [2, 4, 5, 5], {"normalized_shape": [5], "bias": False}),
    ("Linear", [2, 4, 5, 7], {"out_features": 3, "bias": False}),
    ("PReLU", [2, 4, 5, 5], {"num_parameters": 4}),
    ("Softmax", [2, 4, 5, 5], {"dim": -1}),
    ("Flatten", [2, 4, 5, 5], {"start_dim": 2}),
]


def _variant_id(index: int) -> str:
    return f"{VARIANTS[index][0]}-{index}"


def assert_agrees(report: Any) -> None:
    assert report.ok, "\n".join(report.diff())
    assert report.counts["mismatch"] == report.counts["error"] == report.counts["failed"] == 0


# -------------------------------------------------------------------------------------------------
# Every layer type, built and run
# -------------------------------------------------------------------------------------------------


def test_every_layer_type_has_a_sample() -> None:
    missing = [cls.type_name for cls in LAYER_TYPES
               if len(sample_specs(cls)) < (cls.min_inputs <= 1)
               + (cls.max_inputs is None or cls.max_inputs >= 2)]
    assert not missing, f"no sample network for: {', '.join(missing)} (extend REQUIRED or the shapes)"


@pytest.mark.parametrize("cls", LAYER_TYPES, ids=lambda c: c.type_name)
def test_layer_type_validates(cls: type) -> None:
    specs = sample_specs(cls)
    assert specs
    for spec in specs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # softmax's implicit-dim deprecation and the like
            report = validate(spec, rf=True, rf_layers="all")
            meta = validate(spec, device="meta")
        assert_agrees(report)
        checks = {(c.layer, c.check): c for c in report.checks}
        for layer in analyze(spec).layers:
            for what in ("output_shape", "params", "buffers", "torch_flops"):
                assert checks[(layer.name, what)].status == "ok"
            assert checks[(layer.name, "fvcore_flops")].status in ("ok", "known")
        assert_agrees(meta)
        assert {c.check for c in meta.checks if c.status == "ok"} >= {"output_shape", "params", "torch_flops"}


@pytest.mark.parametrize("index", range(len(VARIANTS)), ids=_variant_id)
def test_layer_variant_validates(index: int) -> None:
    type_name, shape, args = VARIANTS[index]
    spec = {"name": "variant", "input": shape, "layers": [{"type": type_name, **args}]}
    assert_agrees(validate(spec, rf=True, rf_layers="all"))


# -------------------------------------------------------------------------------------------------
# Graphs
# -------------------------------------------------------------------------------------------------

RESIDUAL = {
    "name": "residual", "input": [2, 3, 16, 16],
    "layers": [
        {"name": "stem", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"name": "layer1.0.conv1", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"name": "layer1.0.bn1", "type": "BatchNorm2d"},
        {"name": "layer1.0.relu", "type": "ReLU"},
        {"name": "layer1.0.conv2", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"name": "layer1.0.add", "type": "Add", "inputs": ["layer1.0.conv2", "stem"]},
        {"name": "pool", "type": "MaxPool2d", "kernel_size": 2},
    ],
    "expect": {"output_shape": [2, 8, 8, 8]},
}

CONCAT = {
    "name": "inception-ish", "input": [1, 4, 12, 12],
    "layers": [
        {"name": "b1", "type": "Conv2d", "out_channels": 3, "kernel_size": 1},
        {"name": "b2", "type": "Conv2d", "out_channels": 5, "kernel_size": 3, "padding": 1,
         "inputs": "input"},
        {"name": "b3", "type": "MaxPool2d", "kernel_size": 3, "stride": 1, "padding": 1, "inputs": "input"},
        {"name": "cat", "type": "Concat", "inputs": ["b1", "b2", "b3"]},
        {"name": "head", "type": "Conv2d", "out_channels": 2, "kernel_size": 3, "stride": 2},
    ],
}

CROP = {
    "name": "unet-ish", "input": [1, 1, 28, 28],
    "layers": [
        {"name": "enc", "type": "Conv2d", "out_channels": 4, "kernel_size": 3},
        {"name": "down", "type": "MaxPool2d", "kernel_size": 2},
        {"name": "mid", "type": "Conv2d", "out_channels": 8, "kernel_size": 3},
        {"name": "up", "type": "ConvTranspose2d", "out_channels": 4, "kernel_size": 2, "stride": 2},
        {"name": "skip", "type": "Crop", "inputs": ["enc", "up"]},
        {"name": "cat", "type": "Concat", "inputs": ["skip", "up"]},
        {"name": "out", "type": "Conv2d", "out_channels": 2, "kernel_size": 3},
    ],
}

DIAMOND_1D = {
    "name": "diamond", "input": [2, 3, 40],
    "layers": [
        {"name": "a", "type": "Conv1d", "out_channels": 4, "kernel_size": 3, "dilation": 2, "padding": 2},
        {"name": "b", "type": "Conv1d", "out_channels": 4, "kernel_size": 5, "padding": 2, "inputs": "input"},
        {"name": "unused", "type": "Conv1d", "out_channels": 4, "kernel_size": 1, "inputs": "a"},
        {"name": "sum", "type": "Add", "inputs": ["a", "b"]},
        {"name": "twice", "type": "Add", "inputs": ["sum", "sum"]},
        {"name": "down", "type": "Conv1d", "out_channels": 2, "kernel_size": 3, "stride": 2},
    ],
}

GRAPHS = {"residual": RESIDUAL, "concat": CONCAT, "crop": CROP, "diamond": DIAMOND_1D}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_graph_validates(name: str) -> None:
    spec = GRAPHS[name]
    report = validate(spec, rf=True, rf_layers="all")
    assert_agrees(report)
    assert any(c.check == "receptive_field.size" and c.status == "ok" for c in report.checks)
    assert_agrees(validate(spec, device="meta"))


def test_graph_forward_equals_the_modules_composed_by_hand() -> None:
    torch.manual_seed(0)
    net = build(RESIDUAL).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        stem = net.stem(x)
        block = net.layer1[0]
        branch = block.conv2(block.relu(block.bn1(block.conv1(stem))))
        expected = net.pool(branch + stem)
        assert torch.equal(net(x), expected)


def test_unet_tiny_example_validates_with_receptive_fields() -> None:
    assert_agrees(validate(ROOT / "specs" / "examples" / "unet_tiny.yaml", rf=True))


# -------------------------------------------------------------------------------------------------
# convcalc.build: names, training, export
# -------------------------------------------------------------------------------------------------


def test_build_names_mirror_the_spec() -> None:
    net = convcalc.build(RESIDUAL)
    assert isinstance(net, nn.Module)
    assert list(net.state_dict()) == [
        "stem.weight", "stem.bias", "layer1.0.conv1.weight", "layer1.0.conv1.bias", "layer1.0.bn1.weight",
        "layer1.0.bn1.bias", "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var",
        "layer1.0.bn1.num_batches_tracked", "layer1.0.conv2.weight", "layer1.0.conv2.bias"]
    assert net.layer("layer1.0.conv1") is net.get_submodule("layer1.0.conv1") is net.layer1[0].conv1
    assert [name for name, _ in net.named_layers()] == [layer["name"] for layer in RESIDUAL["layers"]]
    assert net.layer_inputs("layer1.0.add") == ("layer1.0.conv2", "stem")
    with pytest.raises(KeyError):
        net.layer("nope")


def test_build_places_clashing_names_apart() -> None:
    spec = {"input": [1, 2, 8], "layers": [
        {"name": "a", "type": "Conv1d", "out_channels": 2, "kernel_size": 1},
        {"name": "a.b", "type": "ReLU"},            # 'a' is a layer: cannot also be a namespace
        {"name": "forward", "type": "Conv1d", "out_channels": 2, "kernel_size": 1},  # shadows nn.Module
        {"name": "training", "type": "Tanh"},
        {"name": "layer_paths", "type": "Identity"},  # shadows ConvcalcNet's own attribute
    ]}
    net = build(spec)
    for name in ("a", "a.b", "forward", "training", "layer_paths"):
        assert isinstance(net.layer(name), nn.Module)
    assert net.layer("a") is net.a and isinstance(net.layer("a.b"), nn.ReLU)
    assert isinstance(net.layer("forward"), nn.Conv1d) and net.layer_paths["forward"] != "forward"
    x = torch.randn(1, 2, 8)
    assert net(x).shape == (1, 2, 8)
    assert_agrees(validate(spec))


def test_built_network_trains_and_exports() -> None:
    torch.manual_seed(0)
    net = build(CONCAT)
    assert net.training  # a freshly built module, as torch makes them
    before = net.layer("b2").weight.detach().clone()
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = net(torch.randn(1, 4, 12, 12)).square().mean()
    loss.backward()
    optimiser.step()
    assert not torch.equal(before, net.layer("b2").weight)
    net.eval()
    x = torch.randn(1, 4, 12, 12)
    exported = torch.export.export(net, (x,))
    with torch.no_grad():
        assert torch.allclose(exported.module()(x), net(x))


def test_build_on_meta_and_in_float64() -> None:
    net = build(RESIDUAL, device="meta", dtype="float64")
    assert all(p.device.type == "meta" and p.dtype == torch.float64 for p in net.parameters())
    assert sum(p.numel() for p in net.parameters()) == analyze(RESIDUAL).totals["params"]


def test_build_error_names_the_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    conv = lookup("Conv2d")

    def refuse(self: Any) -> nn.Module:
        raise NotImplementedError("no torch module for this")

    monkeypatch.setattr(conv, "build", refuse)
    with pytest.raises(convcalc.ConvcalcError, match="layer 'stem'"):
        build(RESIDUAL)
    report = validate(RESIDUAL)
    assert not report.ok and report.failures[0].check == "build" and report.failures[0].layer == "stem"


# -------------------------------------------------------------------------------------------------
# The validator catches what is wrong
# -------------------------------------------------------------------------------------------------


def test_wrong_expectations_fail_with_a_readable_diff() -> None:
    spec = json.loads(json.dumps(RESIDUAL))
    spec["layers"][1]["expect"] = {"params": 500, "output_shape": [2, 8, 16, 15]}
    spec["expect"] = {"params": 1, "output_shape": [2, 8, 8, 8]}
    report = validate(spec)
    assert not report.ok
    failed = {(c.layer, c.check): c for c in report.checks if c.status == "failed"}
    assert set(failed) == {("layer1.0.conv1", "expect.params"), ("layer1.0.conv1", "expect.output_shape"),
                           (None, "expect.params")}
    diff = "\n".join(report.diff())
    assert "layer 'layer1.0.conv1': expected params 500, the analysis gives 584" in diff
    assert "expected output_shape [2, 8, 16, 15], the analysis gives [2, 8, 16, 16]" in diff
    assert "dim 3: 15 -> 16" in diff
    assert "failed expectation" in report.verdict()
    # the measurements themselves still agree
    assert report.counts["mismatch"] == 0


def test_a_wrong_analytic_count_is_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    conv = lookup("Conv2d")
    monkeypatch.setattr(conv, "params", lambda self: self.weight_numel())  # forgets the bias
    monkeypatch.setattr(conv, "torch_flops", lambda self: self.macs())  # forgets the factor 2
    report = validate(CONCAT)
    bad = {(c.layer, c.check) for c in report.failures}
    assert {("b1", "params"), ("b2", "params"), ("head", "params"), (None, "params"),
            ("b1", "torch_flops"), (None, "torch_flops")} <= bad
    assert "layer 'b1': params: analytic 12, measured 15  (difference +3, +25.0%)" in report.diff()


def test_a_wrong_receptive_field_is_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    conv = lookup("Conv2d")
    original = conv.rf

    def too_small(self: Any, in_rfs: Any) -> Any:
        return tuple(type(a)(a.size - 1, a.jump, a.start) if a.jump is not None else a
                     for a in original(self, in_rfs))

    monkeypatch.setattr(conv, "rf", too_small)
    report = validate(CONCAT, rf=True)
    bad = {c.layer: c for c in report.failures if c.check == "receptive_field.size"}
    assert bad["b2"].analytic == [2, 2] and bad["b2"].measured == [3, 3]


def test_a_wrong_receptive_field_start_is_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    conv = lookup("Conv1d")
    original = conv.rf

    def shifted(self: Any, in_rfs: Any) -> Any:
        return tuple(type(a)(a.size, a.jump, a.start + 1) for a in original(self, in_rfs))

    monkeypatch.setattr(conv, "rf", shifted)
    spec = {"input": [1, 2, 20], "layers": [{"type": "Conv1d", "out_channels": 2, "kernel_size": 3}]}
    report = validate(spec, rf=True)
    assert [c.check for c in report.failures] == ["receptive_field.center"]


def test_torch_rejecting_what_the_analysis_accepts_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    conv = lookup("Conv2d")
    monkeypatch.setattr(conv, "build", lambda self: nn.Conv2d(self.in_channels + 1, self.out_channels, 1))
    report = validate(CONCAT)
    assert not report.ok
    (failure,) = report.failures
    assert failure.check == "forward" and failure.layer == "b1"
    assert "PyTorch raised RuntimeError" in (failure.note or "")


def test_fvcore_known_difference_is_named_not_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    conv = lookup("Conv2d")
    note = "fvcore counts 0 for padding='same'/'valid' (it only reads integer padding)"
    monkeypatch.setattr(conv, "fvcore_note", lambda self: note if isinstance(self.padding, str) else None)
    spec = {"input": [1, 3, 12, 12], "layers": [
        {"name": "same", "type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": "same"},
        {"name": "plain", "type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
    ]}
    report = validate(spec)
    checks = {(c.layer, c.check): c for c in report.checks}
    same = checks[("same", "fvcore_flops")]
    if same.measured == same.analytic:  # an fvcore that learned string padding: nothing left to excuse
        assert same.status == "ok"
    else:
        assert same.status == "known" and same.note == note and same.measured == 0
        assert checks[(None, "fvcore_flops")].status == "known"
        assert "known difference" in report.verdict()
    assert checks[("plain", "fvcore_flops")].status == "ok"
    assert report.ok


def test_missing_fvcore_is_skipped_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fvcore", None)
    monkeypatch.setitem(sys.modules, "fvcore.nn", None)
    report = validate(CONCAT)
    (fv,) = [c for c in report.checks if c.check == "fvcore_flops"]
    assert fv.status == "skipped" and fv.note == "fvcore not installed"
    assert report.ok


def test_fvcore_trace_failure_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    import fvcore.nn

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tracer exploded")

    monkeypatch.setattr(fvcore.nn, "FlopCountAnalysis", broken)
    report = validate(CONCAT)
    (fv,) = [c for c in report.checks if c.check == "fvcore_flops"]
    assert fv.status == "skipped" and "tracer exploded" in fv.note and report.ok


# -------------------------------------------------------------------------------------------------
# Devices, dtypes, memory, determinism
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "bfloat16", "float16"])
def test_other_dtypes_agree(dtype: str) -> None:
    report = validate(RESIDUAL, dtype=dtype, rf=True)
    assert_agrees(report)
    assert report.dtype == dtype


def test_meta_checks_huge_inputs_without_memory() -> None:
    spec = {"input": [64, 3, 4096, 4096], "layers": [
        {"type": "Conv2d", "out_channels": 64, "kernel_size": 7, "stride": 2, "padding": 3},
        {"type": "BatchNorm2d"}, {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 3, "stride": 2}]}
    report = validate(spec, device="meta")
    assert_agrees(report)
    assert report.memory is None and report.device == "meta"
    statuses = {c.check: c.status for c in report.checks if c.layer is None}
    assert statuses["output_shape"] == statuses["params"] == statuses["torch_flops"] == "ok"
    assert statuses["fvcore_flops"] == "skipped"
    # on the CPU the same network is refused before anything is allocated
    with pytest.raises(MemoryRefused) as refused:
        validate(spec, device="cpu")
    message = str(refused.value)
    assert "refusing to run on cpu" in message and "available" in message and "--force" in message
    assert refused.value.needed > refused.value.available


def test_memory_budget_and_force() -> None:
    with pytest.raises(MemoryRefused, match="needs about"):
        validate(RESIDUAL, max_memory=1000)
    report = validate(RESIDUAL, max_memory=1000, force=True)
    assert_agrees(report)
    assert report.memory is not None and report.memory["forced"] and report.memory["available_bytes"] == 1000


def test_memory_estimate_follows_the_graph() -> None:
    analysis = analyze(DIAMOND_1D)
    sizes = {r.name: math.prod(r.output_shape) for r in analysis.layers}
    # the input is dropped after 'b', 'unused' at once; the peak is a, b and one more map of that size
    assert peak_live_elements(analysis) == sizes["a"] + sizes["b"] + sizes["sum"] == 960
    need = estimate(analysis, "float32")
    assert need.params_bytes == 4 * analysis.totals["params"] + 4 * analysis.totals["buffers"]
    assert estimate(analysis, "float16").activation_bytes * 2 == need.activation_bytes
    assert estimate(analysis, "float32", rf_probe=True).total > need.total


def test_devices_and_dtypes_are_checked() -> None:
    with pytest.raises(DeviceError, match="unknown device 'gpu'"):
        validate(RESIDUAL, device="gpu")
    with pytest.raises(DeviceError, match="unknown dtype 'int8'"):
        validate(RESIDUAL, dtype="int8")
    auto = validate(RESIDUAL, device="auto")
    assert auto.device == ("cuda:0" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="not available"):
            validate(RESIDUAL, device="cuda:0")
    assert validate(RESIDUAL, dtype="fp64").dtype == "float64"


def test_same_seed_same_report() -> None:
    first = validate(CROP, seed=3, rf=True).to_dict()
    second = validate(CROP, seed=3, rf=True).to_dict()
    for data in (first, second):
        data.pop("time_s"), data.pop("timings"), data.pop("memory")
    assert first == second


def test_probe_network_is_positive_and_pool_free() -> None:
    net = build(RESIDUAL)
    probe = make_probe(net, torch.float64, seed=0)
    assert isinstance(probe.layer("pool"), WindowMean)
    assert isinstance(probe.layer("layer1.0.relu"), nn.Identity)
    assert all((p >= 0).all() for p in probe.parameters())
    assert isinstance(net.layer("pool"), nn.MaxPool2d)  # the original is untouched


@pytest.mark.parametrize("args", [
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 2, "stride": 3, "ceil_mode": True},
    {"kernel_size": 3, "stride": 1, "dilation": 2, "padding": 1},
])
def test_window_mean_matches_average_pooling_windows(args: dict[str, Any]) -> None:
    x = torch.rand(2, 3, 11, 10, dtype=torch.float64)
    pool = nn.MaxPool2d(**args)
    mean = WindowMean(pool, 2)(x)
    assert mean.shape == pool(x).shape
    if args.get("dilation", 1) == 1 and not args.get("ceil_mode"):
        avg = nn.AvgPool2d(args["kernel_size"], args["stride"], args.get("padding", 0),
                           count_include_pad=True)
        assert torch.allclose(mean, avg(x))


# -------------------------------------------------------------------------------------------------
# The report and `convcalc validate`
# -------------------------------------------------------------------------------------------------


def _without_times(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    for key in ("time_s", "timings", "memory"):
        data.pop(key, None)
    return data


def test_cli_json_is_the_api_report(tmp_path: Path) -> None:
    path = tmp_path / "net.json.yaml"
    path.write_text(json.dumps(CROP), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path), "--format", "json", "--rf", "--seed", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    api = validate(str(path), rf=True, seed=2).to_dict()
    assert _without_times(data) == _without_times(api)
    assert data["ok"] is True and data["verdict"].startswith("OK")
    assert {"device", "dtype", "seed", "counts", "checks", "versions", "time_s", "diff"} <= set(data)
    assert data["checks"][0] == {"layer": "enc", "check": "output_shape", "analytic": [1, 4, 26, 26],
                                 "measured": [1, 4, 26, 26], "status": "ok"}


def test_cli_table_and_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(json.dumps(CONCAT), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "LAYER" in out and "MEASURED" in out and "OK: all" in out and "cpu · float32" in out
    assert "fvcore_flops" in out and "head" in out

    bad = tmp_path / "bad.yaml"
    spec = json.loads(json.dumps(CONCAT))
    spec["layers"][4]["expect"] = {"params": 99}
    bad.write_text(json.dumps(spec), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "FAILED: 1 failed expectation" in result.stdout
    assert "layer 'head': expected params 99, the analysis gives 218" in result.stdout
    assert "Traceback" not in result.output

    for args, message in ((["validate", str(tmp_path / "missing.yaml")], "spec file not found"),
                          (["validate", str(good), "--device", "gpu"], "unknown device 'gpu'"),
                          (["validate", str(good), "--dtype", "int4"], "unknown dtype 'int4'"),
                          (["validate", str(good), "--input", "1x4x2x2"], "Kernel size can't be greater")):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and "Traceback" not in result.output
        assert result.stderr.count("error:") == 1


def test_cli_options_shape_the_run(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(json.dumps(RESIDUAL), encoding="utf-8")

    def checks(*extra: str) -> set[str]:
        result = runner.invoke(app, ["validate", str(path), "--format", "json", *extra])
        assert result.exit_code == 0, result.output
        return {c["check"] for c in json.loads(result.stdout)["checks"]}

    assert "fvcore_flops" in checks() and "receptive_field.size" not in checks()
    assert "fvcore_flops" not in checks("--no-fvcore") and "torch_flops" in checks("--no-fvcore")
    assert not {"fvcore_flops", "torch_flops"} & checks("--no-flops")
    assert "receptive_field.size" in checks("--rf", "--rf-layers", "last")
    assert "fvcore_flops" in checks("--device", "meta")  # reported as skipped
    result = runner.invoke(app, ["validate", str(path), "--all"])
    assert result.exit_code == 0 and result.stdout.count(" OK") >= 30


def test_cli_validate_arch() -> None:
    result = runner.invoke(app, ["validate", "--arch", "lenet5", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "lenet5"


def test_big_reports_list_only_problems(tmp_path: Path) -> None:
    spec = {"input": [1, 2, 64], "layers": [{"type": "Conv1d", "out_channels": 2, "kernel_size": 1}] * 40}
    path = tmp_path / "long.yaml"
    path.write_text(json.dumps(spec), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0
    assert "more checks agree (--all lists them)" in result.stdout
    assert len(result.stdout.splitlines()) < 30


def test_rich_table_for_terminals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from convcalc.cli.common import state

    monkeypatch.setattr(state, "force_rich", True)
    spec = json.loads(json.dumps(CONCAT))
    spec["layers"][0]["expect"] = {"output_shape": [1, 3, 12, 11]}
    path = tmp_path / "net.yaml"
    path.write_text(json.dumps(spec), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path), "--rf"])
    assert result.exit_code == 1
    out = result.stdout
    assert "Layer" in out and "Analytic" in out and "Measured" in out and "│" in out
    assert "rf size" in out and "FAILED" in out and "dim 3: 11 -> 12" in out
    assert "cpu · float32" in out


COMPOSITE_TYPES = sorted(set(COMPOSITES.values()), key=lambda c: c.type_name)


@pytest.mark.parametrize("cls", COMPOSITE_TYPES, ids=lambda c: c.type_name)
def test_composite_types_validate(cls: type) -> None:
    """Composites expand into real layers; an expectation on the composite's name is reported too."""
    ndim = cls.ndim or 2
    args = {a.name: REQUIRED[a.name] for a in cls.args if a.required and a.name in REQUIRED}
    spec = {"input": [1, 4] + [9] * ndim, "layers": [
        {"type": cls.type_name, "name": "block", **args, "expect": {"params": 1}}, {"type": "ReLU"}]}
    report = validate(spec, rf=True, rf_layers="all")
    assert [(c.layer, c.check) for c in report.failures] == [("block", "expect.params")]
    assert report.counts["ok"] > 10
