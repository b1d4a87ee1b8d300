"""`convcalc import` on real torchvision models, proven against what torch, fvcore and FlopCounterMode
measure on those models, and `validate --against` on each.

Runs where torchvision imports (CI's torchvision venv: torch 2.14.1, torchvision 0.29.x); skipped
elsewhere, unless CONVCALC_REQUIRE_TORCHVISION=1, which turns the skip into a failure.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import convcalc
from convcalc.cli import app
from convcalc.torch_backend.importer import from_module, import_target

try:
    import torchvision
except Exception as exc:  # noqa: BLE001 - any failure to import means: no torchvision here
    if os.environ.get("CONVCALC_REQUIRE_TORCHVISION") == "1":
        raise RuntimeError(f"CONVCALC_REQUIRE_TORCHVISION=1 but torchvision does not import: {exc}") from exc
    pytest.skip(f"torchvision does not import here ({exc})", allow_module_level=True)

logging.getLogger("fvcore").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", module="fvcore")
runner = CliRunner()
SHAPE = (1, 3, 224, 224)

# the eight models; the target text is exactly what a user types
TARGETS = {
    "resnet50": "torchvision.models:resnet50()",
    "mobilenet_v3_small": "torchvision.models:mobilenet_v3_small()",
    "efficientnet_b0": "torchvision.models:efficientnet_b0()",
    "convnext_tiny": "torchvision.models:convnext_tiny()",
    "densenet121": "torchvision.models:densenet121()",
    "googlenet": "torchvision.models:googlenet(aux_logits=False, init_weights=False)",
    "shufflenet_v2_x1_0": "torchvision.models:shufflenet_v2_x1_0()",
    "regnet_y_400mf": "torchvision.models:regnet_y_400mf()",
}


@pytest.fixture(autouse=True, scope="module")
def _threads() -> Any:
    previous = torch.get_num_threads()
    torch.set_num_threads(min(2, previous))
    yield
    torch.set_num_threads(previous)


def measure(model: torch.nn.Module) -> dict[str, Any]:
    """What torch, fvcore and FlopCounterMode say about the real model."""
    from fvcore.nn import FlopCountAnalysis
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    torch.manual_seed(0)
    x = torch.randn(SHAPE)
    with torch.no_grad():
        counter = FlopCounterMode(display=False)
        with counter:
            out = model(x)
        fvcore = FlopCountAnalysis(model, (x,))
        fvcore.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        fvcore_total = int(fvcore.total())
    return {"params": sum(p.numel() for p in model.parameters()),
            "buffers": sum(b.numel() for b in model.buffers()),
            "fvcore_flops": fvcore_total, "torch_flops": int(counter.get_total_flops()),
            "output_shape": list(out.shape)}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_imported_spec_equals_the_model(name: str) -> None:
    result = import_target(TARGETS[name], SHAPE)
    analysis = result.analysis
    names = {r.name for r in analysis.layers}
    torch.manual_seed(0)
    model = convcalc.torch_backend.targets.load_module(TARGETS[name])
    measured = measure(model)
    ours = {key: analysis.totals[key] for key in ("params", "buffers", "fvcore_flops", "torch_flops")}
    ours["output_shape"] = list(analysis.output_shape)
    assert ours == measured
    # every module with weights is one layer of the same name (a parameter held directly on a block,
    # ConvNeXt's layer_scale, is a layer of the parameter's name): its state_dict keys are the spec's
    orphans = [k for k in model.state_dict() if k not in names and k.rpartition(".")[0] not in names]
    assert not orphans, orphans[:5]
    # the blocks change the text, not the layers: the flat import analyses the same, layer by layer
    folded, flat = (convcalc.analyze(from_module(model, SHAPE, blocks=b)) for b in (True, False))
    assert [(r.name, r.type, dict(r.args), r.inputs) for r in flat.layers] == \
        [(r.name, r.type, dict(r.args), r.inputs) for r in folded.layers]
    report = convcalc.validate(result.spec, against=model, fvcore=False)
    assert report.ok, "\n".join(report.diff())
    outputs = [c for c in report.checks if c.check == "against.output"]
    assert outputs and outputs[0].status == "ok"


def test_googlenet_target_takes_literal_arguments() -> None:
    result = runner.invoke(app, ["import", TARGETS["googlenet"], "--input", "1x3x224x224"])
    assert result.exit_code == 0, result.stderr
    assert 'against: "torchvision.models:googlenet(aux_logits=False, init_weights=False)"' in result.output


@pytest.fixture(scope="module")
def resnet50_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tv") / "resnet50.yaml"
    result = runner.invoke(app, ["import", TARGETS["resnet50"], "--input", "1x3x224x224", "--flat", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _validate(path: Path) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["validate", str(path), "--no-fvcore", "--no-flops", "--format", "json"])
    return result.exit_code, json.loads(result.output) if result.output.startswith("{") else {}


def test_validate_against_passes_and_an_edited_spec_fails_naming_the_layer(resnet50_spec: Path,
                                                                           tmp_path: Path) -> None:
    code, report = _validate(resnet50_spec)
    assert code == 0, report.get("diff")
    text = resnet50_spec.read_text()
    # a changed stride: the stem no longer halves the map
    line = next(ln for ln in text.splitlines() if "{name: conv1," in ln)
    strided = tmp_path / "stride.yaml"
    strided.write_text(text.replace(line, line.replace("stride: 2", "stride: 1")))
    code, report = _validate(strided)
    assert code == 1
    assert any(d.startswith("layer 'conv1': output shape [1, 64, 224, 224] in the spec, [1, 64, 112, 112]")
               for d in report["diff"])
    # a missing layer: the BatchNorm after it has nowhere to load its weights from
    missing = tmp_path / "missing.yaml"
    missing.write_text("\n".join(ln for ln in text.splitlines() if "{name: layer2.1.bn2," not in ln) + "\n")
    code, report = _validate(missing)
    assert code == 1
    assert any("'layer2.1.bn2.weight'" in d and d.startswith("layer 'layer2.1.bn2'") for d in report["diff"])
