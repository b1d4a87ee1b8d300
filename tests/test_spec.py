"""The spec format: blocks, repeats, variables, names, inputs, and the errors for malformed specs."""

from __future__ import annotations

import textwrap

import pytest

import convcalc
from convcalc import SpecError
from convcalc.spec.expand import load_spec
from convcalc.spec.expr import ExprError, evaluate, make_divisible, substitute


def spec(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def names(text: str) -> list[str]:
    return [e.name for e in load_spec(spec(text)).layers]


def test_sequential_layers_get_stable_automatic_names() -> None:
    got = names("""
        input: [1, 3, 8, 8]
        layers:
          - {type: Conv2d, out_channels: 4, kernel_size: 3}
          - {type: conv2d, out_channels: 4, kernel_size: 3}
          - {type: Conv2d, out_channels: 4, kernel_size: 1, name: head}
    """)
    assert got == ["conv2d_1", "conv2d_2", "head"]


def test_auto_names_never_collide_with_user_names() -> None:
    got = names("""
        input: [1, 3, 8, 8]
        layers:
          - {type: Conv2d, out_channels: 4, kernel_size: 1}
          - {type: Conv2d, out_channels: 4, kernel_size: 1, name: conv2d_2}
          - {type: Conv2d, out_channels: 4, kernel_size: 1}
    """)
    assert got == ["conv2d_1", "conv2d_2", "conv2d_3"]


def test_inputs_prev_and_input_resolve() -> None:
    loaded = load_spec(spec("""
        input: [1, 3, 8, 8]
        layers:
          - {type: Conv2d, out_channels: 4, kernel_size: 1, name: a}
          - {type: Conv2d, out_channels: 4, kernel_size: 1, name: b, inputs: [input]}
          - {type: Conv2d, out_channels: 4, kernel_size: 1, name: c, inputs: [a]}
          - {type: Conv2d, out_channels: 4, kernel_size: 1, name: d, inputs: prev}
    """))
    assert [e.inputs for e in loaded.layers] == [("input",), ("input",), ("a",), ("c",)]


def test_block_with_params_repeat_first_and_scoped_names() -> None:
    loaded = load_spec(spec("""
        input: [1, 3, 16, 16]
        blocks:
          unit:
            params: {c: null, s: 1}
            layers:
              - {type: Conv2d, out_channels: $c, kernel_size: 3, stride: $s, padding: 1, name: conv}
              - {type: Conv2d, out_channels: "${c * 2}", kernel_size: 1, name: expand}
        layers:
          - {block: unit, c: 4, repeat: 3, first: {s: 2}, name: stage}
          - {type: Conv2d, out_channels: 1, kernel_size: 1, inputs: [stage.0], name: tap}
          - {type: Conv2d, out_channels: 1, kernel_size: 1, inputs: [stage], name: last}
    """))
    by_name = {e.name: e for e in loaded.layers}
    assert list(by_name)[:6] == ["stage.0.conv", "stage.0.expand", "stage.1.conv", "stage.1.expand",
                                 "stage.2.conv", "stage.2.expand"]
    assert by_name["stage.0.conv"].args["stride"] == 2
    assert by_name["stage.1.conv"].args["stride"] == 1
    assert by_name["stage.1.expand"].args["out_channels"] == 8
    assert by_name["stage.1.conv"].inputs == ("stage.0.expand",)
    assert by_name["tap"].inputs == ("stage.0.expand",)
    assert by_name["last"].inputs == ("stage.2.expand",)


def test_repeat_whose_name_reads_i_names_each_repetition() -> None:
    loaded = load_spec(spec("""
        input: [1, 3, 16, 16]
        blocks:
          unit:
            params: {c: 4}
            layers:
              - {type: Conv2d, out_channels: $c, kernel_size: 1, name: conv}
        layers:
          - {block: unit, repeat: 3, first: {c: 2}, name: "layer${i + 1}"}
          - {type: ReLU, repeat: 2, name: "act_${2 * i}"}
          - {type: Conv2d, out_channels: 1, kernel_size: 1, inputs: [layer2], name: tap}
    """))
    by_name = {e.name: e for e in loaded.layers}
    assert list(by_name) == ["layer1.conv", "layer2.conv", "layer3.conv", "act_0", "act_2", "tap"]
    assert by_name["layer1.conv"].args["out_channels"] == 2 and by_name["layer2.conv"].args["out_channels"] == 4
    assert by_name["tap"].inputs == ("layer2.conv",)
    # a name that does not read i still numbers the group (name.0, name.1), and the group name is its last
    assert names("""
        params: {p: blk}
        input: [1, 3, 8, 8]
        layers:
          - {type: ReLU, repeat: 2, name: "${p}"}
          - {type: ReLU, inputs: [blk], name: after}
    """) == ["blk.0", "blk.1", "after"]
    with pytest.raises(SpecError, match="used twice"):
        load_spec(spec("""
            input: [1, 3, 8, 8]
            layers:
              - {type: ReLU, repeat: 2, name: "r${i // 2}"}
        """))


def test_a_repeated_name_that_reads_i_names_each_repetition() -> None:
    # torchvision's RegNet names its blocks `block1-0`, `block1-1`, ...; DenseNet `denselayer1`, ...
    loaded = load_spec(spec("""
        input: [1, 3, 16, 16]
        params: {stage: 2}
        blocks:
          unit:
            params: {c: null}
            layers:
              - {type: Conv2d, out_channels: $c, kernel_size: 1, name: conv}
        layers:
          - {block: unit, c: 4, repeat: 2, name: "block${stage}-${i}"}
          - {type: ReLU, repeat: 2, name: "relu${i + 1}"}
          - {type: Conv2d, out_channels: 1, kernel_size: 1, inputs: [block2-0], name: tap}
    """))
    assert [e.name for e in loaded.layers] == ["block2-0.conv", "block2-1.conv", "relu1", "relu2", "tap"]
    assert loaded.layers[-1].inputs == ("block2-0.conv",)
    with pytest.raises(SpecError) as info:  # a name that does not change with i is used twice
        load_spec(spec("""
            input: [1, 3, 16, 16]
            layers:
              - {type: ReLU, repeat: 2, name: "relu${i * 0}"}
        """))
    assert "the name 'relu0' is used twice" in str(info.value)


def test_block_input_reference_and_when() -> None:
    loaded = load_spec(spec("""
        input: [1, 4, 8, 8]
        blocks:
          res:
            params: {proj: false}
            layers:
              - {type: Conv2d, out_channels: 4, kernel_size: 3, padding: 1, name: body}
              - {type: Conv2d, out_channels: 4, kernel_size: 1, inputs: [input], name: short, when: $proj}
              - {type: Conv2d, out_channels: 4, kernel_size: 1, inputs: ["${'short' if proj else 'input'}"], name: out}
        layers:
          - {type: Conv2d, out_channels: 4, kernel_size: 1, name: stem}
          - {block: res, name: r1}
          - {block: res, proj: true, name: r2}
    """))
    by_name = {e.name: e for e in loaded.layers}
    assert "r1.short" not in by_name
    assert by_name["r1.out"].inputs == ("stem",)
    assert by_name["r2.short"].inputs == ("r1.out",)
    assert by_name["r2.out"].inputs == ("r2.short",)


def test_spec_params_and_overrides() -> None:
    text = spec("""
        params: {width: 8, res: 16}
        input: [1, 3, $res, $res]
        layers:
          - {type: Conv2d, out_channels: "${int(width * 1.5)}", kernel_size: 3}
    """)
    assert convcalc.analyze(text).output_shape == (1, 12, 14, 14)
    assert convcalc.analyze(text, params={"width": 4, "res": 10}).output_shape == (1, 6, 8, 8)
    with pytest.raises(SpecError, match="no parameter 'depth'"):
        convcalc.analyze(text, params={"depth": 3})


def test_input_shape_override() -> None:
    text = spec("""
        input: [1, 3, 32, 32]
        layers: [{type: Conv2d, out_channels: 2, kernel_size: 3}]
    """)
    assert convcalc.analyze(text, input_shape=(2, 3, 10, 12)).output_shape == (2, 2, 8, 10)


def test_mapping_and_file_sources(tmp_path) -> None:
    mapping = {"input": [1, 3, 8, 8], "layers": [{"type": "Conv2d", "out_channels": 2, "kernel_size": 3}]}
    assert convcalc.analyze(mapping).output_shape == (1, 2, 6, 6)
    path = tmp_path / "net.yaml"
    path.write_text("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 2, kernel_size: 3}\n")
    assert convcalc.analyze(path).output_shape == (1, 2, 6, 6)
    assert convcalc.analyze(str(path)).name == "net"


def test_yaml_reads_exponent_floats_as_numbers() -> None:
    loaded = load_spec("input: [1, 3, 8, 8]\nlayers:\n  - {type: BatchNorm2d, eps: 1e-3}\n")
    assert loaded.layers[0].args["eps"] == pytest.approx(1e-3)


def test_expressions_are_safe_and_useful() -> None:
    assert evaluate("c * 4 // 2", {"c": 6}) == 12
    assert evaluate("2 if i == 0 else 1", {"i": 0}) == 2
    assert evaluate("make_divisible(32 * 0.75, 8)", {}) == 24
    assert substitute("layer${i}", {"i": 3}) == "layer3"
    assert substitute(["$a", "${a+1}"], {"a": 1}) == [1, 2]
    for bad in ("__import__('os')", "c.__class__", "open('x')", "[x for x in y]", "lambda: 1"):
        with pytest.raises(ExprError):
            evaluate(bad, {"c": 1, "y": [1]})
    assert make_divisible(37.5, 8) == 40
    assert make_divisible(4, 8) == 8


# -- malformed specs: one clear message, with file:line, layer and hint ------------------------------

@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: [3, 3}\n", 3, "invalid YAML"),
        ("input: [1, 3, 8, 8]\nlayers:\n  - {type: Cnv2d, out_channels: 4, kernel_size: 3}\n", 3, "did you mean Conv2d"),
        ("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4}\n", 3, "needs 'kernel_size'"),
        ("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 3, strde: 2}\n", 3,
         "did you mean 'stride'"),
        ("input: [1, 3, 8, 8]\nlayers:\n  - type: Conv2d\n    out_channels: 4\n    kernel_size: three\n", 5,
         "must be an integer"),
        ("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 3}\n"
         "  - {type: Conv2d, out_channels: 4, kernel_size: 1, inputs: [conv2d_7]}\n", 4, "not a layer defined above"),
        ("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 1, inputs: [b], name: a}\n"
         "  - {type: Conv2d, out_channels: 4, kernel_size: 1, inputs: [a], name: b}\n", 3, "defined later"),
        ("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 1, name: a}\n"
         "  - {type: Conv2d, out_channels: 4, kernel_size: 1, name: a}\n", 4, "used twice"),
        ("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, in_channels: 5, out_channels: 4, kernel_size: 1}\n", 3,
         "in_channels=5"),
        ("input: [1, 3, 8, 8]\nlayrs: []\n", 2, "did you mean 'layers'"),
        ("input: [2, 3]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 1}\n", 3, "expected 3D"),
        ("input: [1, 3, 8, 8]\nlayers:\n  - {block: nope}\n", 3, "unknown block"),
        ("input: [1, 3, 8, 8]\ninput: [1, 3, 8, 8]\nlayers: []\n", 2, "duplicate key"),
        ("input: [1, 3, 0, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 1}\n", 1, "positive"),
    ],
)
def test_malformed_specs_name_line_and_layer(tmp_path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        convcalc.analyze(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.file == str(path)
    assert err.line == line, str(err)
    assert fragment in str(err)
    assert str(path) in str(err)


def test_layer_errors_carry_layer_name_and_hint() -> None:
    with pytest.raises(SpecError) as info:
        convcalc.analyze("input: [1, 3, 8, 8]\nlayers:\n  - {type: Conv2d, out_channels: 4, kernel_size: 3, "
                         "groups: 2, name: grouped}\n")
    assert info.value.layer == "grouped"
    assert info.value.layer_type == "Conv2d"
    assert info.value.hint and "groups must divide 3" in info.value.hint


def test_huge_inputs_and_long_specs_are_exact() -> None:
    result = convcalc.analyze({"input": [1, 3, 100000, 100000],
                               "layers": [{"type": "Conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1}]})
    assert result.totals["macs"] == 100000 * 100000 * 64 * 27
    layers = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 1}] * 10000
    long = convcalc.analyze({"input": [1, 4, 8, 8], "layers": layers})
    assert len(long.layers) == 10000
    assert long.totals["params"] == 10000 * (16 + 4)


# --------------------------------------------------------------------------------------------------
# The incoming shape in expressions (in_channels, in_shape, in_spatial, in_features)
# --------------------------------------------------------------------------------------------------

SE_SPEC = """
    input: [1, 3, 16, 12]
    blocks:
      se:   # torchvision's SqueezeExcitation: the squeeze width follows the block's input
        params: {squeeze: "${make_divisible(in_channels // 4, 8)}"}
        layers:
          - {name: avgpool, type: AdaptiveAvgPool2d, output_size: 1}
          - {name: fc1, type: Conv2d, out_channels: $squeeze, kernel_size: 1}
          - {name: relu, type: ReLU}
          - {name: fc2, type: Conv2d, out_channels: "${in_channels * 4}", kernel_size: 1}
    layers:
      - {name: stem, type: Conv2d, out_channels: 72, kernel_size: 3}
      - {name: se, block: se}
      - {name: pool, type: AvgPool2d, inputs: stem, kernel_size: "${in_spatial}"}
      - {name: half, type: Conv2d, out_channels: "${in_shape[1] // 2}", kernel_size: 1}
      - {name: flat, type: Flatten}
      - {name: fc, type: Linear, out_features: "${in_features + 1}"}
"""


def test_expressions_read_the_incoming_shape() -> None:
    result = convcalc.analyze(spec(SE_SPEC))
    shapes = {r.name: r.output_shape for r in result.layers}
    # block parameters read the block's input (72 channels), layer arguments their own layer's input
    assert shapes["se.fc1"] == (1, make_divisible(72 // 4, 8), 1, 1) == (1, 24, 1, 1)
    assert shapes["se.fc2"] == (1, 24 * 4, 1, 1)
    assert shapes["pool"] == (1, 72, 1, 1)          # kernel = the whole 14x10 map of `stem`
    assert shapes["half"] == (1, 36, 1, 1)
    assert shapes["fc"] == (1, 37)
    # the same block at another width follows it: nothing is threaded by hand
    wider = convcalc.analyze(spec(SE_SPEC.replace("out_channels: 72", "out_channels: 160")))
    assert wider.layer("se.fc1").output_shape[1] == make_divisible(160 // 4, 8) == 40
    assert convcalc.analyze(spec(SE_SPEC), input_shape=(2, 3, 30, 9)).layer("pool").output_shape == (2, 72, 1, 1)


@pytest.mark.parametrize("where, fragment", [
    ("repeat: '${in_channels}'", "repeat"),
    ("when: '${in_channels > 2}'", "when"),
    ("name: 'c${in_channels}'", "longer text"),
    ("inputs: '${in_shape}'", "inputs"),
])
def test_incoming_shape_where_no_shape_is_known_is_a_clear_error(where: str, fragment: str) -> None:
    text = spec(f"""
        input: [1, 3, 8, 8]
        layers:
          - {{type: Conv2d, out_channels: 4, kernel_size: 1, {where}}}
    """)
    with pytest.raises(SpecError) as info:
        convcalc.analyze(text)
    message = str(info.value)
    assert "in_" in message and info.value.line == 3
    assert fragment in message or "not known here" in message
    assert "in_channels" in (info.value.hint or "") or "longer text" in message


def test_incoming_shape_in_spec_params_and_expectations_is_refused() -> None:
    with pytest.raises(SpecError) as info:
        convcalc.analyze(spec("""
            input: [1, 3, 8, 8]
            params: {width: "${in_channels}"}
            layers:
              - {type: Conv2d, out_channels: $width, kernel_size: 1}
        """))
    assert "not known here" in str(info.value) and info.value.line == 2


def test_incoming_shape_errors_name_the_layer() -> None:
    with pytest.raises(SpecError) as info:
        convcalc.analyze(spec("""
            input: [1, 3, 8, 8]
            layers:
              - {name: c, type: Conv2d, out_channels: "${in_spatial[2]}", kernel_size: 1}
        """))
    assert info.value.layer == "c" and "out of range" in str(info.value) and info.value.line == 3
    assert evaluate("[4, 5][-1]", {}) == 5
    with pytest.raises(ExprError):
        evaluate("(4)[0]", {})
