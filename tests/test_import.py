"""`convcalc import`, `from_module`, `validate --against` and a spec's `against:` key.

Every imported spec is proven the only way that counts: built by convcalc, loaded with the module's own
state_dict, and run beside the module on the same input (validate --against); its counts are compared
with what torch, fvcore and FlopCounterMode measure on the spec's network (validate). Refusals are
driven through the command line: all of them at once, exit 2, nothing written.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
import yaml
from torch import nn
from typer.testing import CliRunner

import convcalc
from convcalc.analysis.core import Analysis
from convcalc.archs import arch_names, load_arch
from convcalc.cli import app
from convcalc.errors import SpecError
from convcalc.layers import all_layer_types, lookup
from convcalc.spec.expand import load_spec
from convcalc.torch_backend.importer import ImportRefused, from_module, import_layers, import_target
from convcalc.torch_backend.specwriter import layer_items, scalar, to_yaml
from convcalc.torch_backend.targets import TargetError, load_module, parse_target

sys.path.insert(0, str(Path(__file__).parent))
import import_models as M  # noqa: E402
from test_layers_torch import GRAPH_SAMPLES, SAMPLES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = Path(__file__).resolve().parent / "import_models.py"
runner = CliRunner()
warnings.filterwarnings("ignore", module="fvcore")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def layer_key(analysis: Analysis) -> list[tuple[Any, ...]]:
    """Everything the analysis says about each layer (name, type, arguments, shapes, counts, field)."""
    return [(r.name, r.type, dict(r.args), r.inputs, r.output_shape, r.output_shapes, r.params, r.buffers,
             r.macs, r.flops, r.fvcore_flops, r.torch_flops, r.receptive_field) for r in analysis.layers]


def prove(module: nn.Module, shape: tuple[int, ...], fvcore: bool = True) -> dict[str, Any]:
    """Import `module`, then prove the spec: equal to the module (against) and to its own counts (validate)."""
    spec = from_module(module, shape)
    analysis = convcalc.analyze(spec)
    with torch.no_grad():
        expected = module.eval()(torch.randn(shape))
    assert list(analysis.output_shape) == list(expected.shape)
    assert analysis.totals["params"] == sum(p.numel() for p in module.parameters())
    assert analysis.totals["buffers"] == sum(b.numel() for b in module.buffers())
    report = convcalc.validate(spec, against=module, fvcore=fvcore)
    assert report.ok, "\n".join(report.diff())
    checks = {c.check for c in report.checks}
    assert {"against.state_dict", "against.output", "torch_flops"} <= checks
    return spec


# --------------------------------------------------------------------------------------------------
# Hand-written modules: every mapped module, function and method, proven against the module
# --------------------------------------------------------------------------------------------------


def test_sequential_imports_module_for_module() -> None:
    spec = prove(M.Plain(), (2, 3, 32, 32))
    items = spec["layers"]
    assert [i["name"] for i in items] == [str(k) for k in range(10)]  # the Sequential's qualified names
    assert items[0] == {"name": "0", "type": "Conv2d", "out_channels": 8, "kernel_size": 3, "stride": 2,
                        "padding": 1, "bias": False}  # in_channels inferred, defaults left out
    assert items[1] == {"name": "1", "type": "BatchNorm2d", "eps": 0.001}
    assert items[3]["ceil_mode"] is True and items[4]["kernel_size"] == [3, 1] and items[4]["groups"] == 2
    assert items[6] == {"name": "6", "type": "AdaptiveAvgPool2d", "output_size": 2}


def test_residual_blocks_fold_into_a_repeated_block() -> None:
    spec = prove(M.ResNetLike(), (1, 3, 16, 16))
    assert spec["blocks"]["residual"]["layers"][5] == {"name": "add", "type": "Add", "inputs": ["bn2", "input"]}
    assert {"name": "layer1", "block": "residual", "repeat": 3} in spec["layers"]
    flat = from_module(M.ResNetLike(), (1, 3, 16, 16), blocks=False)
    names = [i["name"] for i in flat["layers"]]
    # the shared ReLU's second call gets a name of its own; `out += x` is an Add named under its block
    assert names[2:10] == ["layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu", "layer1.0.conv2", "layer1.0.bn2",
                           "layer1.0.add", "layer1.0.relu_1", "layer1.1.conv1"]
    assert layer_key(convcalc.analyze(spec)) == layer_key(convcalc.analyze(flat))


def test_every_mapped_function_and_method_matches_the_module() -> None:
    spec = prove(M.Functional(), (1, 4, 16, 16), fvcore=False)
    types = {i["type"] for i in spec["layers"]}
    assert types >= {"ReLU", "Sigmoid", "Tanh", "Add", "SiLU", "Hardswish", "LeakyReLU", "ELU", "GELU",
                     "Hardsigmoid", "ReLU6", "Mish", "Softplus", "Hardtanh", "MaxPool2d", "AvgPool2d", "Chunk",
                     "Split", "Concat", "Upsample", "PixelUnshuffle", "PixelShuffle", "ChannelShuffle",
                     "Identity", "Softmax", "LogSoftmax", "Dropout", "AdaptiveMaxPool2d", "Flatten", "Linear"}
    by_name = {i["name"]: i for i in spec["layers"]}
    # positional arguments land on torch's parameter names, not convcalc's order
    assert by_name["max_pool2d"] == {"name": "max_pool2d", "type": "MaxPool2d", "kernel_size": 3, "stride": 2,
                                     "padding": 1, "ceil_mode": True}
    assert by_name["relu"]["inplace"] is True
    assert by_name["cat"]["inputs"] == ["chunk.1", "chunk.0"]  # pieces of a multi-output layer, by index
    assert by_name["cat_2"] == {"name": "cat_2", "type": "Concat", "inputs": ["add_11"], "dim": 0}  # torch.cat([x])
    assert by_name["interpolate"]["size"] == [16, 16]  # x.size(2) * 2, evaluated on the known shape
    assert by_name["dropout"]["p"] == 0.3  # F.dropout(training=self.training), traced in eval mode


def test_tensor_operations_match_the_module() -> None:
    spec = prove(M.Tensorish(), (2, 4, 8, 8), fvcore=False)
    by_name = {i["name"]: i for i in spec["layers"]}
    assert by_name["gamma"] == {"name": "gamma", "type": "Scale", "init_value": 0.5}  # named by the parameter
    assert by_name["mul"]["inputs"] == ["conv", "sigmoid"]  # x * s
    assert by_name["mean"] == {"name": "mean", "type": "Mean", "dim": [2, 3], "keepdim": True}
    assert by_name["sub"]["inputs"] == ["gamma", "mean_1"] and by_name["div"]["inputs"] == ["sub", "sigmoid_1"]
    assert by_name["view"] == {"name": "view", "type": "Reshape", "shape": [2, 2, 4, 8, 8]}  # sizes evaluated
    assert [by_name[n]["type"] for n in ("sub", "div", "permute", "permute_1", "transpose", "contiguous",
                                         "narrow", "transpose_1", "reshape")] == [
        "Sub", "Div", "Permute", "Permute", "Transpose", "Identity", "Narrow", "Transpose", "Reshape"]
    assert by_name["permute"]["dims"] == [0, 2, 3, 1] and by_name["permute_1"]["dims"] == [0, 3, 1, 2]


def test_a_parameter_of_another_shape_is_no_scale() -> None:
    with pytest.raises(ImportRefused, match=r"the parameter 'w' has shape \[8\]; a Scale here holds \[4, 1, 1\]"):
        from_module(M.WrongScale(), (1, 3, 4, 4))


def test_names_never_collide_and_optional_arguments_keep_their_defaults() -> None:
    spec = prove(M.NameClash(), (1, 3, 8, 8))
    assert [i["name"] for i in spec["layers"]] == ["add", "conv", "add_1"]  # the module `add` keeps its name


def test_a_module_that_is_trained_is_traced_in_eval_mode_and_left_training() -> None:
    module = M.Functional().train()
    spec = from_module(module, (1, 4, 16, 16))
    assert module.training and any(i["type"] == "Dropout" for i in spec["layers"])


def test_concat_of_one_tensor_is_what_torch_cat_does() -> None:
    analysis = convcalc.analyze({"input": [1, 3, 4, 4], "layers": [{"type": "Concat", "inputs": ["input"]}]})
    net = convcalc.build(analysis)
    x = torch.randn(1, 3, 4, 4)
    assert torch.equal(net(x), torch.cat([x], 1)) and analysis.output_shape == (1, 3, 4, 4)


def test_imported_spec_writes_readable_yaml_that_analyses_the_same() -> None:
    spec = from_module(M.ResNetLike(), (1, 3, 16, 16))
    text = to_yaml(spec, ["a header"])
    assert text.startswith("# a header\nname: resnetlike\n")
    assert "  - {name: layer1, block: residual, repeat: 3}\n" in text
    assert layer_key(convcalc.analyze(load_spec(text))) == layer_key(convcalc.analyze(spec))


@pytest.mark.parametrize(("value", "text"), [
    ("0", '"0"'), ("true", '"true"'), ("layer1.0.conv1", "layer1.0.conv1"), ("$stride", "$stride"),
    (1e-05, "1.0e-05"), (0.001, "0.001"), (float("inf"), ".inf"), (None, "null"), (True, "true"),
    ("a b", '"a b"'), ("x: y", '"x: y"'),
])
def test_scalars_read_back_as_written(value: Any, text: str) -> None:
    assert scalar(value) == text
    assert yaml.safe_load(f"k: {text}")["k"] == value


# --------------------------------------------------------------------------------------------------
# Round trips: every layer type, every built-in architecture
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", sorted(SAMPLES))
def test_every_layer_type_survives_build_then_import(type_name: str) -> None:
    shape, args = SAMPLES[type_name]
    original = convcalc.analyze({"input": shape, "layers": [{"type": type_name, **args}]})
    imported = convcalc.analyze(from_module(convcalc.build(original), shape))
    assert layer_key(imported) == layer_key(original)


@pytest.mark.parametrize("type_name", sorted(GRAPH_SAMPLES))
def test_every_graph_layer_survives_build_then_import(type_name: str) -> None:
    original = convcalc.analyze(GRAPH_SAMPLES[type_name])
    imported = convcalc.analyze(from_module(convcalc.build(original), original.input_shape))
    assert layer_key(imported) == layer_key(original)


def test_every_registered_type_is_recognised() -> None:
    """A type convcalc builds from torch.nn or its own modules is recognised by that class."""
    from convcalc.torch_backend.importer import _table

    table = _table()
    recognised = {cls for claims in table.modules.values() for cls in claims}
    assert set(all_layer_types()) <= recognised, sorted(c.type_name for c in set(all_layer_types()) - recognised)
    for function, claims in table.functions.items():
        assert len({c.torch_parameter for c in claims}) == len(claims), f"{function} is claimed twice"


@pytest.mark.parametrize("arch", arch_names())
def test_every_builtin_round_trips(arch: str) -> None:
    """spec -> convcalc.build -> import -> spec: the same analysis, layer by layer."""
    original = convcalc.analyze(load_arch(arch))
    net = convcalc.build(original, device="meta")  # structure only: nothing allocated or initialised
    imported = convcalc.analyze(from_module(net, original.input_shape))

    def key(analysis: Analysis) -> list[tuple[Any, ...]]:
        # a Scale's init_value is the value of its weights, which a meta module does not have
        return [(*k[:2], {a: v for a, v in k[2].items() if a != "init_value"}, *k[3:]) for k in layer_key(analysis)]

    assert key(imported) == key(original)
    assert imported.totals == original.totals


# --------------------------------------------------------------------------------------------------
# Refusals: all at once, with the op, the module and the source line; exit 2 and nothing written
# --------------------------------------------------------------------------------------------------


def test_every_refusal_is_reported_at_once() -> None:
    with pytest.raises(ImportRefused) as caught:
        from_module(M.Refused(), (1, 3, 16, 16))
    problems = caught.value.problems
    assert [p.op for p in problems] == ["torch.erf()", "operator.mul()", "operator.getitem()", "operator.add()",
                                        "module 'embed' (torch.nn.Embedding)"]
    assert all(p.source and p.source.startswith("tests/import_models.py:") for p in problems)  # from the root
    assert "# no layer type" in problems[0].source  # the line itself
    reasons = [p.reason for p in problems]
    assert "constant" in reasons[1] and "indexes" in reasons[2] and "'gain'" in reasons[3]
    assert "no layer type for torch.nn.Embedding" in reasons[4]
    assert "torch.erf needs a layer type of its own" in (problems[0].hint or "")


@pytest.mark.parametrize(("model", "shape", "words"), [
    ("TwoCalls", "1x4x8x8", "called 2 times: its weights are shared"),
    ("Branchy", "1x3x8x8", "cannot be used as inputs to control flow"),
    ("TwoOutputs", "1x3x8x8", "returns several tensors"),
])
def test_what_fx_or_a_spec_cannot_hold_is_refused(model: str, shape: str, words: str, tmp_path: Path) -> None:
    out = tmp_path / "out.yaml"
    result = runner.invoke(app, ["import", f"{MODELS}:{model}", "--input", shape, "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert words in result.stderr and str(MODELS) in result.stderr
    assert not out.exists()


def test_cli_refusal_lists_everything_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "refused.yaml"
    result = subprocess.run([sys.executable, "-m", "convcalc", "import", f"{MODELS}:Refused", "--input",
                             "1x3x16x16", "-o", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "5 operations cannot be written as convcalc layers (no spec was written)" in result.stderr
    assert result.stderr.count("\n  - ") == 5 and "hint:" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


# --------------------------------------------------------------------------------------------------
# Targets: literals only, never evaluated; every failure a clear message with exit 2
# --------------------------------------------------------------------------------------------------


def test_target_arguments_are_literals() -> None:
    target = parse_target("torchvision.models:googlenet(aux_logits=False, init_weights=False)")
    assert (target.module, target.attribute, target.kwargs) == ("torchvision.models", "googlenet",
                                                                 {"aux_logits": False, "init_weights": False})
    assert parse_target("C:\\models\\net.py:Net(8, names=['a:b'])").module == "C:\\models\\net.py"
    assert parse_target("pkg.mod:Outer.build").attribute == "Outer.build"
    for bad in ("pkg.mod:f(x=__import__('os').getcwd())", "pkg.mod:f(*args)", "pkg.mod", "pkg.mod:1 + 2",
                "pkg.mod:f(x=y)"):
        with pytest.raises(TargetError):
            parse_target(bad)


def test_file_targets_are_called_with_their_arguments() -> None:
    module = load_module(f"{MODELS}:make_plain(width=4)")
    assert isinstance(module, M.Plain.__mro__[0].__mro__[0]) or type(module).__name__ == "Plain"
    assert module[0].out_channels == 4


@pytest.mark.parametrize(("target", "words"), [
    ("no_such_package_xyz.models:net", "no module named 'no_such_package_xyz'"),
    (f"{MODELS}:make_plan", "did you mean make_plain"),
    (f"{MODELS}:NOT_CALLABLE", "is a int, not something to call"),
    (f"{MODELS}:broken", "raised RuntimeError: this factory fails"),
    (f"{MODELS}:not_a_module", "returned a list, not a torch.nn.Module"),
    (f"{MODELS}:make_plain(depth=3)", "unexpected keyword argument 'depth'"),
    ("missing/file.py:Net", "no such file"),
    (f"{MODELS}:make_plain(width=int('4'))", "argument 'int('4')' is not a literal"),
])
def test_bad_targets_are_clear_errors(target: str, words: str) -> None:
    result = runner.invoke(app, ["import", target, "--input", "1x3x8x8"])
    assert result.exit_code == 2 and words in result.stderr, result.output
    assert "Traceback" not in result.stderr


def test_import_command_writes_a_spec_that_summary_and_validate_accept(tmp_path: Path) -> None:
    out = tmp_path / "specs" / "plain.yaml"
    out.parent.mkdir()
    result = runner.invoke(app, ["import", f"{MODELS}:make_plain(width=4)", "--input", "1x3x16x16", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: make_plain, 10 layers" in result.stderr
    assert load_spec(out).against == f"{MODELS}:make_plain(width=4)"
    assert runner.invoke(app, ["summary", str(out)]).exit_code == 0
    checked = runner.invoke(app, ["validate", str(out), "--no-fvcore"])
    assert checked.exit_code == 0, checked.output
    assert "against.output" in runner.invoke(app, ["validate", str(out), "--all", "--no-fvcore"]).output
    as_json = runner.invoke(app, ["import", f"{MODELS}:make_plain(width=4)", "--input", "1x3x16x16", "-f", "json"])
    assert layer_key(convcalc.analyze(json.loads(as_json.stdout))) == layer_key(convcalc.analyze(out))


def test_a_relative_file_target_is_recorded_relative_to_the_spec(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "nets.py").write_text(MODELS.read_text())
    (tmp_path / "specs").mkdir()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["import", "models/nets.py:ResNetLike(blocks=1)", "--input", "1x3x8x8",
                                 "-o", "specs/net.yaml"])
    assert result.exit_code == 0, result.output
    assert 'against: "../models/nets.py:ResNetLike(blocks=1)"' in (tmp_path / "specs" / "net.yaml").read_text()
    monkeypatch.chdir(ROOT)  # read from the spec's folder, wherever check runs
    checked = runner.invoke(app, ["check", str(tmp_path / "specs")])
    assert checked.exit_code == 0, checked.output


# --------------------------------------------------------------------------------------------------
# validate --against: a spec that differs fails, naming the layer
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resnetlike_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("against") / "resnetlike.yaml"
    result = runner.invoke(app, ["import", f"{MODELS}:ResNetLike", "--input", "1x3x16x16", "--flat",
                                 "--no-against", "-o", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _against(spec: Path, *extra: str) -> Any:
    return runner.invoke(app, ["validate", str(spec), "--against", f"{MODELS}:ResNetLike", "--no-fvcore",
                               "--format", "json", *extra])


def test_validate_against_passes_for_the_imported_spec(resnetlike_spec: Path) -> None:
    result = _against(resnetlike_spec)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    against = [c for c in report["checks"] if c["check"].startswith("against.")]
    assert {c["status"] for c in against} == {"ok"}
    assert any(c["check"] == "against.output_shape" and c["layer"] == "layer1.2.conv2" for c in against)


def test_a_changed_stride_fails_naming_the_layer(resnetlike_spec: Path, tmp_path: Path) -> None:
    text = resnetlike_spec.read_text().replace("{name: stem, type: Conv2d,", "{name: stem, type: Conv2d, stride: 2,")
    edited = tmp_path / "stride.yaml"
    edited.write_text(text)
    result = runner.invoke(app, ["validate", str(edited), "--against", f"{MODELS}:ResNetLike", "--no-fvcore"])
    assert result.exit_code == 1, result.output
    assert ("layer 'stem': output shape [1, 8, 8, 8] in the spec, [1, 8, 16, 16] from "
            f"{MODELS}:ResNetLike's module 'stem'") in result.output


def test_a_missing_layer_fails_naming_it(resnetlike_spec: Path, tmp_path: Path) -> None:
    lines = [line for line in resnetlike_spec.read_text().splitlines() if "name: layer1.0.bn1," not in line]
    edited = tmp_path / "missing.yaml"
    edited.write_text("\n".join(lines) + "\n")
    result = _against(edited)
    assert result.exit_code == 1
    diff = "\n".join(json.loads(result.output)["diff"])
    assert "'layer1.0.bn1.weight' of " in diff and "has no place in the spec" in diff


def test_a_missing_parameter_free_layer_fails_at_the_next_layer(resnetlike_spec: Path, tmp_path: Path) -> None:
    text = resnetlike_spec.read_text()
    text = text.replace("  - {name: layer1.0.relu, type: ReLU, inplace: true}\n", "")
    edited = tmp_path / "norelu.yaml"
    edited.write_text(text)
    result = _against(edited)
    assert result.exit_code == 1
    report = json.loads(result.output)
    values = [c for c in report["checks"] if c["check"] == "against.values"]
    assert [c["layer"] for c in values] == ["layer1.0.conv2"]  # the first layer that differs, and only it
    assert any(c["check"] == "against.output" and c["status"] == "mismatch" for c in report["checks"])


def test_check_proves_specs_against_their_code(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    result = runner.invoke(app, ["import", f"{MODELS}:ResNetLike(width=4, blocks=2)", "--input", "1x3x8x8",
                                 "-o", str(folder / "good.yaml")])
    assert result.exit_code == 0, result.output
    bad = (folder / "good.yaml").read_text().replace("ResNetLike(width=4, blocks=2)", "ResNetLike(width=4, blocks=3)")
    (folder / "bad.yaml").write_text(bad.replace("name: ResNetLike", "name: bad"))
    junit = tmp_path / "report.xml"
    result = runner.invoke(app, ["check", str(folder), "--format", "json", "--junit-xml", str(junit)])
    assert result.exit_code == 1, result.output
    specs = {Path(s["path"]).name: s for s in json.loads(result.output)["specs"]}
    assert specs["good.yaml"]["status"] == "passed"
    assert specs["bad.yaml"]["status"] == "failed"
    assert any("layer1.2.conv1.weight" in line for line in specs["bad.yaml"]["diff"])
    assert "layer1.2" in junit.read_text()


def test_against_must_name_a_target() -> None:
    with pytest.raises(SpecError, match="'against' must be a model target"):
        load_spec("input: [1, 3, 8, 8]\nagainst: 12\nlayers:\n  - {type: ReLU}\n")


# --------------------------------------------------------------------------------------------------
# Python API and --module
# --------------------------------------------------------------------------------------------------


def test_analyze_takes_a_module() -> None:
    result = convcalc.analyze(M.Plain(), (1, 3, 32, 32)).to_dict()
    assert result["output_shape"] == [1, 10] and result["totals"]["params"] == sum(
        p.numel() for p in M.Plain().parameters())
    with pytest.raises(SpecError, match="needs its input shape"):
        convcalc.analyze(M.Plain())
    assert convcalc.from_module(M.Plain(), (1, 3, 32, 32))["layers"][0]["name"] == "0"


def test_from_module_without_blocks_lists_every_layer_in_order() -> None:
    layers = import_layers(M.ResNetLike(blocks=2), (1, 3, 8, 8))
    items = layer_items(layers)
    assert len(items) == 2 + 2 * 7 + 3 and all("block" not in i for i in items)
    assert items[-1] == {"name": "fc", "type": "Linear", "out_features": 5}


@pytest.mark.parametrize("command", ["shape", "params", "flops", "rf", "summary"])
def test_analytic_commands_take_a_module(command: str) -> None:
    result = runner.invoke(app, [command, "--module", f"{MODELS}:make_plain(width=4)", "--input", "1x3x16x16",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["output_shape"] == [1, 10]


def test_module_needs_an_input_and_no_spec() -> None:
    assert "--module needs --input" in runner.invoke(app, ["summary", "--module", f"{MODELS}:Plain"]).stderr
    both = runner.invoke(app, ["summary", "--arch", "lenet5", "--module", f"{MODELS}:Plain", "--input", "1x3x8x8"])
    assert both.exit_code == 2 and "not both" in both.stderr


def test_import_target_never_allocates_what_it_does_not_need() -> None:
    """Built on the meta device where the model allows: no weights are created, nothing is run."""
    result = import_target(f"{MODELS}:make_plain(width=4)", (1, 3, 16, 16))
    assert result.analysis.output_shape == (1, 10)


def test_the_cli_still_starts_without_torch() -> None:
    code = "import sys, convcalc.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
    assert lookup("Conv2d").torch_modules is None  # recognition is declared by names: no torch needed
