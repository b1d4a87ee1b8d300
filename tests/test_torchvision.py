"""The built-ins that follow torchvision, proven equal to torchvision's models (tests/torchvision_twins.py).

For every built-in with a twin, torchvision's model (random weights) and `convcalc.build(spec)`:
  have the same state_dict names, and torchvision's state_dict loads into convcalc's module strictly;
  in eval mode compute the same output from the same seeded input;
  measure (torch: numel; fvcore's FlopCountAnalysis; torch's FlopCounterMode) what convcalc computes
  analytically: params, buffers, fvcore and FlopCounterMode totals, output shape;
  accept, or refuse, the same other input sizes.
Option variants (`--set`) are compared on the meta device: names, params, buffers, FlopCounterMode, shape.

torchvision is not installed beside the main suite's torch, so this module is skipped without it, unless
CONVCALC_REQUIRE_TORCHVISION=1: then a missing torchvision is an error (CI runs it so, in a second
environment; see .ci/run). Locally: `pip install torchvision` (the build matching your torch), then
`CONVCALC_REQUIRE_TORCHVISION=1 python -m pytest -q tests/test_torchvision.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

if os.environ.get("CONVCALC_REQUIRE_TORCHVISION") == "1":
    import torchvision  # CI: an environment without torchvision must fail here, not skip the proof
else:
    torchvision = pytest.importorskip("torchvision", reason="torchvision is not installed")

import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import convcalc
from convcalc.archs import arch_names
from convcalc.errors import SpecError

from torchvision_twins import TWINS, Twin, proven_archs

PROOFS = sorted(proven_archs())
VARIANTS = sorted(set(TWINS) - proven_archs())


@pytest.fixture(scope="module", autouse=True)
def _threads() -> Iterator[None]:
    # One forward per network at batch 2: intra-op threads are where the time goes. All cores up to 8
    # (beyond that these small batches gain little), and back to what it was for whatever runs next.
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    yield
    torch.set_num_threads(before)


def _torchvision_model(twin: Twin, device: str = "cpu") -> nn.Module:
    builder = getattr(torchvision.models, twin.builder)
    try:
        with torch.device(device):
            return builder(weights=None, **twin.kwargs).eval()
    except NotImplementedError:
        # RegNet derives its stage widths with torch ops, which read no data on the meta device: build it
        # on the CPU and move it there
        return builder(weights=None, **twin.kwargs).eval().to(device)


def _spec(twin: Twin) -> Any:
    return convcalc.load_arch(twin.arch, dict(twin.spec_params))


def _input_shape(twin: Twin) -> tuple[int, ...]:
    shape = twin.input_shape or _spec(twin).input_shape
    assert shape is not None
    return tuple(shape)


def _same_names(ours: nn.Module, theirs: nn.Module) -> None:
    mine, tv = set(ours.state_dict()), set(theirs.state_dict())
    missing, unexpected = sorted(tv - mine), sorted(mine - tv)
    assert not missing and not unexpected, (
        f"state_dict names differ\n  missing from convcalc's module ({len(missing)}): {missing[:20]}"
        f"\n  unexpected in convcalc's module ({len(unexpected)}): {unexpected[:20]}")


def _totals(analysis: Any) -> dict[str, Any]:
    return {"params": analysis.totals["params"], "buffers": analysis.totals["buffers"],
            "fvcore_flops": analysis.totals["fvcore_flops"], "torch_flops": analysis.totals["torch_flops"],
            "output_shape": list(analysis.output_shape)}


# --------------------------------------------------------------------------------------------------
# The table itself
# --------------------------------------------------------------------------------------------------


def test_twins_name_builtins_and_torchvision_builders() -> None:
    for key, twin in TWINS.items():
        assert twin.arch in arch_names(), f"{key}: no built-in '{twin.arch}'"
        builder = getattr(torchvision.models, twin.builder, None)
        assert callable(builder), f"{key}: no torchvision.models.{twin.builder}"
        assert set(twin.spec_params) <= set(_spec(twin).params), f"{key}: options {dict(twin.spec_params)}"
    assert PROOFS and VARIANTS


# --------------------------------------------------------------------------------------------------
# Built-ins: names, weights, output and every total
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", PROOFS)
def test_builtin_equals_torchvision(key: str) -> None:
    twin = TWINS[key]
    shape = _input_shape(twin)
    batched = (2, *shape[1:])  # batch 2, and the BatchNorm layers in eval mode use their running statistics
    torch.manual_seed(0)
    theirs = _torchvision_model(twin)
    # Random weights; and BatchNorm's running statistics and affine parameters moved away from their 0/1
    # initialisation, so that a skipped or misplaced BatchNorm changes the output. LayerNorm's affine
    # parameters too, and ConvNeXt's layer scale: at its 1e-6 a whole residual branch (GELU as ReLU, say)
    # would change the output by less than the tolerance.
    with torch.no_grad():
        for module in theirs.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                if module.running_mean is not None and module.running_var is not None:
                    module.running_mean.uniform_(-0.1, 0.1)
                    module.running_var.uniform_(0.5, 1.5)
            if isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
                if module.weight is not None and module.bias is not None:
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.uniform_(-0.1, 0.1)
        for name, parameter in theirs.named_parameters():
            if name.endswith("layer_scale"):
                parameter.uniform_(0.5, 1.5)
    analysis = convcalc.analyze(_spec(twin), batched)
    ours = convcalc.build(analysis).eval()
    _same_names(ours, theirs)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(batched, generator=torch.Generator().manual_seed(1))

    counter = FlopCounterMode(display=False)
    with torch.no_grad():
        with counter:
            expected = theirs(x)
        got = ours(x)
    # Both networks run the same torch kernels on the same weights in the same order, so the outputs
    # normally agree to the bit. The tolerance admits only what could still differ legitimately: a kernel
    # summing in another order (an in-place `out += identity` against an out-of-place Add, a backend
    # picking another algorithm for a differently built module), float32 rounding (eps 1.2e-7) compounded
    # over up to a few hundred layers: rtol 1e-4, and for entries near zero an atol of 1e-5 of the
    # output's largest magnitude (randomly initialised networks differ wildly in scale: ~1e-9 for
    # MobileNet v2, ~1e8 for ResNet-152). A structural difference (a stride, a padding, a missing
    # residual, weights in the wrong layer) changes the output by far more than that.
    scale = float(expected.abs().max())
    assert scale > 0 and torch.isfinite(expected).all(), "a degenerate output proves nothing"
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5 * scale)

    measured = {
        "params": sum(p.numel() for p in theirs.parameters()),
        "buffers": sum(b.numel() for b in theirs.buffers()),
        "torch_flops": int(counter.get_total_flops()),
        "output_shape": list(expected.shape),
    }
    totals = _totals(analysis)
    del totals["fvcore_flops"]
    assert totals == measured
    # fvcore traces the model once more (TorchScript, real tensors): at batch 1, the spec's own input,
    # which is also where tests/test_archs.py pins the numbers
    fvcore = FlopCountAnalysis(theirs, x[:1])
    fvcore.unsupported_ops_warnings(False)
    fvcore.uncalled_modules_warnings(False)
    assert convcalc.analyze(_spec(twin), (1, *shape[1:])).totals["fvcore_flops"] == int(fvcore.total())


def _verdict(run: Any) -> tuple[str, Any]:
    try:
        return "output", run()
    except Exception as exc:  # noqa: BLE001 - a refusal, whichever exception type torch or convcalc raises
        return "refused", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _other_inputs(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Other input sizes to try: smaller; larger, non-square and a batch of 2; a quarter of the size."""
    _, c, *spatial = shape
    return [(1, c, *(s * 5 // 7 for s in spatial)),                                  # 160 for 224
            (2, c, *(s * (8 if d == 0 else 6) // 7 for d, s in enumerate(spatial))),  # 256 x 192
            (1, c, *(s // 4 for s in spatial))]                                      # 56


@pytest.mark.parametrize("key", PROOFS)
def test_other_input_sizes_as_torchvision(key: str) -> None:
    # `--input` on a built-in means: this network, fed that input. It must give torchvision's output
    # shape wherever torchvision's model runs, and refuse wherever it refuses. On the meta device: no compute.
    twin = TWINS[key]
    theirs = _torchvision_model(twin, "meta")
    for shape in _other_inputs(_input_shape(twin)):
        tv_kind, tv_result = _verdict(lambda: list(theirs(torch.empty(shape, device="meta")).shape))
        cc_kind, cc_result = _verdict(lambda: list(convcalc.analyze(_spec(twin), shape).output_shape))
        assert cc_kind == tv_kind, f"input {list(shape)}: torchvision: {tv_result}; convcalc: {cc_result}"
        if tv_kind == "output":
            assert cc_result == tv_result, f"input {list(shape)}"
        else:
            assert cc_result.startswith(SpecError.__name__), cc_result


# --------------------------------------------------------------------------------------------------
# Option variants: the same network as torchvision's builder with those arguments (meta device)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", VARIANTS)
def test_variant_equals_torchvision(key: str) -> None:
    twin = TWINS[key]
    shape = _input_shape(twin)
    theirs = _torchvision_model(twin, "meta")
    ours = convcalc.build(_spec(twin), shape, device="meta")
    _same_names(ours, theirs)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = theirs(torch.empty(shape, device="meta"))
    measured = {
        "params": sum(p.numel() for p in theirs.parameters()),
        "buffers": sum(b.numel() for b in theirs.buffers()),
        "torch_flops": int(counter.get_total_flops()),
        "output_shape": list(out.shape),
    }
    totals = _totals(convcalc.analyze(_spec(twin), shape))
    # fvcore traces with TorchScript, which needs real tensors; the built-in's own entry proves how fvcore
    # counts these layers
    del totals["fvcore_flops"]
    assert totals == measured
    mine = ours.state_dict()
    for name, tensor in theirs.state_dict().items():
        assert mine[name].shape == tensor.shape, name
