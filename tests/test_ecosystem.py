"""Completions, the JSON Schema, graph export, plots and the pre-commit hook: convcalc in shells,
editors, READMEs and CI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import convcalc
from convcalc.cli import app
from convcalc.cli.ecosystem_cmd import SCRIPT_NAMES, completion_script
from convcalc.errors import LayerError
from convcalc.layers.base import _COERCERS, COMPOSITES, REGISTRY, Layer, all_layer_types
from convcalc.schema import KIND_SCHEMAS, MODELINE_PREFIX, SCHEMA_FILE, build_schema, schema_text

ROOT = Path(__file__).resolve().parents[1]
COMPLETIONS = ROOT / "completions"
runner = CliRunner()

RESIDUAL = textwrap.dedent("""
    name: residual
    input: [1, 8, 16, 16]
    layers:
      - {type: Conv2d, out_channels: 16, kernel_size: 3, padding: 1, name: stem}
      - {type: Conv2d, out_channels: 16, kernel_size: 3, padding: 1, name: a}
      - {type: ReLU, name: r}
      - {type: Conv2d, out_channels: 16, kernel_size: 3, padding: 1, name: b}
      - {type: Add, inputs: [stem, b], name: add}
      - {type: MaxPool2d, kernel_size: 2, name: pool}
""")

UNET = textwrap.dedent("""
    name: unet-mini
    input: [1, 1, 44, 44]
    blocks:
      double_conv:
        params: {c: null}
        layers:
          - {type: Conv2d, out_channels: $c, kernel_size: 3, name: conv1}
          - {type: ReLU, name: relu1}
          - {type: Conv2d, out_channels: $c, kernel_size: 3, name: conv2}
    layers:
      - {block: double_conv, c: 8, name: enc}
      - {type: MaxPool2d, kernel_size: 2, name: down}
      - {block: double_conv, c: 16, name: mid}
      - {type: ConvTranspose2d, out_channels: 8, kernel_size: 2, stride: 2, name: up}
      - {type: Crop, inputs: [enc, up], name: crop}
      - {type: Concat, inputs: [crop, up], name: cat}
      - {block: double_conv, c: 8, name: dec}
      - {type: Conv2d, out_channels: 2, kernel_size: 1, name: head}
""")


def visible_commands() -> dict[str, Any]:
    import typer.main

    group = typer.main.get_command(app)
    return {name: cmd for name, cmd in group.commands.items() if not getattr(cmd, "hidden", False)}


def option_names(command: Any) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option" and not getattr(param, "hidden", False):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def spec_files() -> list[Path]:
    return sorted(p for p in (ROOT / "specs").rglob("*") if p.suffix in (".yaml", ".yml"))


# -- shell completions -----------------------------------------------------------------------------


@pytest.mark.parametrize("shell", sorted(SCRIPT_NAMES))
def test_completion_scripts_are_in_sync_with_the_command_line(shell: str) -> None:
    shipped = (COMPLETIONS / SCRIPT_NAMES[shell]).read_text(encoding="utf-8")
    assert shipped == completion_script(shell, app), (
        f"completions/{SCRIPT_NAMES[shell]} is stale: run `python completions/generate.py`")


def test_completions_command_prints_the_shipped_script() -> None:
    result = runner.invoke(app, ["completions", "zsh"])
    assert result.exit_code == 0
    assert result.stdout == (COMPLETIONS / "_convcalc").read_text(encoding="utf-8")


def test_generate_script_check_mode_passes() -> None:
    done = subprocess.run([sys.executable, str(COMPLETIONS / "generate.py"), "--check"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


BASH_DRIVER = r"""
source "$1"
shift
comp() {
    COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _convcalc
    printf '%s\n' "${COMPREPLY[*]}"
}
while IFS= read -r line; do eval "comp $line"; done
"""


def bash_complete(queries: list[str], cwd: Path = ROOT) -> list[set[str]]:
    """Run the bash completion function as bash would on TAB, for each command line (last word: cursor)."""
    done = subprocess.run(["bash", "-c", BASH_DRIVER, "bash", str(COMPLETIONS / "convcalc.bash")],
                          input="\n".join(queries) + "\n", capture_output=True, text=True, cwd=cwd,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")[: len(queries)]
    return [set(line.split()) for line in lines]


def test_bash_completes_every_command_and_each_commands_options() -> None:
    commands = visible_commands()
    queries = ["convcalc ''"] + [f"convcalc {name} -" for name in commands]
    results = bash_complete(queries)
    assert results[0] == set(commands)
    for (name, command), got in zip(commands.items(), results[1:]):
        assert got == option_names(command), name


def test_bash_completes_arch_names_choices_and_spec_files(tmp_path: Path) -> None:
    from convcalc.archs import ALIASES, arch_names

    for name in ("a.yaml", "b.yml", "notes.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    arch, fmt, specs, graph_fmt, shells = bash_complete(
        ["convcalc summary --arch res", "convcalc flops --format ''", "convcalc summary ''",
         "convcalc graph --format = ''", "convcalc completions ''"], cwd=tmp_path)  # bash splits --format=
    assert arch == {n for n in [*arch_names(), *ALIASES] if n.startswith("res")}
    assert {"resnet18", "resnet50", "resnext50_32x4d"} <= arch
    assert fmt == {"table", "json", "csv", "markdown"}
    assert specs == {"a.yaml", "b.yml", "sub"}
    assert graph_fmt == {"mermaid", "dot"}
    assert shells == {"bash", "zsh", "fish"}


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_commands_options_and_archs() -> None:
    script = COMPLETIONS / "convcalc.fish"
    probe = "; ".join([f"source {script}", "complete -C 'convcalc gr'", "echo ---",
                       "complete -C 'convcalc summary --arch resnet5'", "echo ---",
                       "complete -C 'convcalc graph --'"])
    done = subprocess.run(["fish", "--no-config", "-c", probe], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    commands, archs, options = (
        {line.split("\t")[0] for line in part.strip().splitlines()} for part in done.stdout.split("---"))
    assert commands == {"graph"}
    assert archs == {"resnet50"}
    assert options == {n for n in option_names(visible_commands()["graph"]) if n.startswith("--")}


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_parses() -> None:
    done = subprocess.run(["zsh", "-n", str(COMPLETIONS / "_convcalc")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_zsh_script_names_every_command_and_option() -> None:
    text = (COMPLETIONS / "_convcalc").read_text(encoding="utf-8")
    for name, command in visible_commands().items():
        section = re.search(rf"^        {re.escape(name)}\)\n(.*?)^          ;;", text, re.M | re.S)
        assert section, name
        for option in option_names(command):
            assert option in section.group(1), (name, option)


def test_dynamic_completion_callbacks_are_fast_and_torch_free(tmp_path: Path) -> None:
    (tmp_path / "net.yaml").write_text("x")
    (tmp_path / "deep").mkdir()
    code = textwrap.dedent(f"""
        import os, sys
        from convcalc.cli.common import complete_arch, complete_spec
        os.chdir({str(tmp_path)!r})
        print(complete_arch("resnet1"))
        print(complete_spec(""))
        print("torch" in sys.modules, "rich" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    archs, specs, loaded = done.stdout.splitlines()
    offered = eval(archs)  # a list literal printed above
    assert {"resnet18", "resnet101", "resnet152"} <= set(offered) and all(a.startswith("resnet1") for a in offered)
    assert eval(specs) == ["deep/", "net.yaml"]
    assert loaded == "False False"


# -- the JSON Schema -------------------------------------------------------------------------------


def test_shipped_schema_is_in_sync_with_the_registry() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "convcalc/schema/convcalc-spec.schema.json is stale: run `python -m convcalc.schema`")
    jsonschema.Draft7Validator.check_schema(json.loads(schema_text()))


def test_schema_command_prints_the_schema_and_writes_a_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == build_schema()
    target = tmp_path / "s.json"
    assert runner.invoke(app, ["schema", "-o", str(target)]).exit_code == 0
    assert json.loads(target.read_text()) == build_schema()


def test_every_arg_kind_has_a_schema() -> None:
    assert set(KIND_SCHEMAS) == set(_COERCERS)


def test_schema_and_registry_name_the_same_types_and_arguments() -> None:
    from convcalc.spec.expand import RESERVED_KEYS, TOP_KEYS

    schema = build_schema()
    definitions = schema["definitions"]
    classes = list(all_layer_types()) + list(set(COMPOSITES.values()))
    layer_defs = {k[len("layer_"):] for k in definitions if k.startswith("layer_") and k != "layer_item"
                  and k != "layer_expect"}
    assert layer_defs == {cls.type_name for cls in classes}
    type_schema = definitions["layer"]["properties"]["type"]
    type_enum = set(type_schema["anyOf"][0]["enum"])
    any_case = re.compile(type_schema["anyOf"][1]["pattern"])
    for key, cls in {**REGISTRY, **COMPOSITES}.items():
        assert any_case.match(key) and any_case.match(key.upper())  # every registered name, any case
        assert key in {n.lower() for n in type_enum}  # offered for completion (aliases too)
        definition = definitions[f"layer_{cls.type_name}"]
        own = set(definition["properties"]) - (set(RESERVED_KEYS) - {"block"})
        assert own == {a.name for a in cls.args}, cls.type_name
        assert set(definition.get("required", [])) == {a.name for a in cls.args if a.required}
        assert cls.type_name in type_enum
    assert list(schema["properties"]) == list(TOP_KEYS)


@pytest.mark.parametrize("path", spec_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_spec_has_the_modeline_and_validates(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith(MODELINE_PREFIX), f"{path}: run python -m convcalc.schema --modelines specs"
    target = (path.parent / first[len(MODELINE_PREFIX):]).resolve()
    assert target == SCHEMA_FILE.resolve()
    errors = list(jsonschema.Draft7Validator(build_schema()).iter_errors(yaml.safe_load(text)))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def schema_accepts(item: dict[str, Any], validator: jsonschema.Draft7Validator) -> bool:
    return validator.is_valid({"input": [1, 3, 8, 8], "layers": [item]})


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(build_schema())


def test_schema_accepts_expressions_blocks_and_every_case_of_a_type(
        validator: jsonschema.Draft7Validator) -> None:
    good = yaml.safe_load(UNET)
    assert validator.is_valid(good)
    assert schema_accepts({"type": "CONV2D", "out_channels": "$c", "kernel_size": "${k * 2}",
                           "repeat": "$n", "when": "${i > 0}", "name": "c_${i}"}, validator)
    assert schema_accepts({"type": "conv2d", "out_channels": 4, "kernel_size": ["$k", 3]}, validator)


@pytest.mark.parametrize("spec, why", [
    ({"layers": [{"type": "Conv2x", "out_channels": 4, "kernel_size": 3}]}, "unknown type"),
    ({"layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "strides": 2}]}, "unknown argument"),
    ({"layers": [{"type": "Conv2d", "kernel_size": 3}]}, "missing required argument"),
    ({"layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": [3, 3, 3]}]}, "one per spatial dim"),
    ({"layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": "full"}]}, "bad choice"),
    ({"layers": [{"type": "Conv2d", "out_channels": True, "kernel_size": 3}]}, "bool is not an int"),
    ({"layrs": []}, "unknown top-level key"),
    ({"layers": []}, "empty layers"),
    ({"layers": [{"block": "b", "type": "ReLU"}]}, "type and block"),
    ({"layers": [{"type": "ReLU"}], "expect": {"parms": 3}}, "unknown expectation"),
])
def test_schema_rejects_what_convcalc_rejects(spec: dict[str, Any], why: str,
                                              validator: jsonschema.Draft7Validator) -> None:
    assert not validator.is_valid(spec), why
    with pytest.raises(convcalc.SpecError):
        convcalc.analyze(dict(spec, input=[1, 3, 8, 8]))


LAYER_CLASSES = sorted({cls for cls in REGISTRY.values() if issubclass(cls, Layer)},
                       key=lambda c: c.type_name)

# JSON Schema's "integer" admits 1.0 (a number with no fraction), which convcalc, like torch, rejects; the
# schema cannot say otherwise, so integral floats are left out of the round trip.
non_integral_floats = st.floats(-2, 4, allow_nan=False).filter(lambda f: not f.is_integer())
scalars = st.one_of(
    st.integers(-3, 9), non_integral_floats, st.booleans(),
    st.none(), st.sampled_from(["same", "valid", "zeros", "reflect", "nearest", "bilinear", "x", "mean"]),
)
values = st.one_of(scalars,
                   st.lists(st.one_of(st.integers(-1, 5), st.none(), non_integral_floats), max_size=4),
                   st.dictionaries(st.just("k"), st.integers(), max_size=1))


@st.composite
def layer_items(draw: st.DrawFn) -> tuple[type[Layer], dict[str, Any]]:
    cls = draw(st.sampled_from(LAYER_CLASSES))
    args: dict[str, Any] = {}
    for arg in cls.args:
        if draw(st.booleans()):
            options = [values]
            if arg.choices:
                options.append(st.sampled_from(list(arg.choices)))
            if arg.default is not convcalc.layers.base.REQUIRED and arg.default is not None:
                options.append(st.just(list(arg.default) if isinstance(arg.default, tuple) else arg.default))
            args[arg.name] = draw(st.one_of(*options))
    if draw(st.integers(0, 9)) == 0:
        args["no_such_arg"] = 1
    return cls, args


@settings(max_examples=400, deadline=None)
@given(layer_items())
def test_schema_round_trip_agrees_with_argument_checking(validator: jsonschema.Draft7Validator,
                                                         drawn: tuple[type[Layer], dict[str, Any]]) -> None:
    """For random arguments of every layer type, the schema accepts exactly what convcalc's argument
    checking (types, choices, list lengths, unknown and missing arguments) accepts."""
    cls, args = drawn
    try:
        cls.coerce_args(args)
        accepted = True
    except LayerError:
        accepted = False
    assert schema_accepts({"type": cls.type_name, **args}, validator) == accepted, (cls.type_name, args)


# -- graph export ----------------------------------------------------------------------------------


def mermaid_edges(text: str) -> tuple[dict[str, str], set[tuple[str, str, str]]]:
    labels = {m.group(1): m.group(2).split("<br/>")[0]
              for m in re.finditer(r'^\s*(\w+)(?:\(\[|\[)"([^"]*)"', text, re.M)
              if not text[m.start():m.end()].lstrip().startswith("subgraph")}
    edges = {(a, b, label) for a, label, b in re.findall(r'^\s*(\w+) -->\|"([^"]*)"\| (\w+)$', text, re.M)}
    return labels, edges


def expected_edges(analysis: Any) -> set[tuple[str, str, str]]:
    edges = {(source, report.name, str(list(shape)))
             for report in analysis.layers for source, shape in zip(report.inputs, report.input_shapes)}
    edges.add((analysis.layers[-1].name, "output", str(list(analysis.output_shape))))
    return edges


def full_names(text: str, labels: dict[str, str]) -> dict[str, str]:
    """Node id -> full layer name: a node inside a box shows its name relative to the box."""
    names: dict[str, str] = {}
    stack: list[str] = []
    for line in text.splitlines():
        box = re.match(r'\s*subgraph \w+\["([^"]*)"\]', line)
        if box:
            stack.append(box.group(1))
        elif line.strip() == "end":
            stack.pop()
        else:
            node = re.match(r"\s*(\w+)(?:\(\[|\[)", line)
            if node and node.group(1) in labels:
                short = labels[node.group(1)]
                names[node.group(1)] = f"{stack[-1]}.{short}" if stack else short
    return names


@pytest.mark.parametrize("source", [RESIDUAL, UNET], ids=["residual", "unet"])
def test_mermaid_graph_has_every_edge_labelled_with_its_shape(source: str) -> None:
    from convcalc.render.graph import to_mermaid

    analysis = convcalc.analyze(source)
    text = to_mermaid(analysis)
    assert text.startswith("flowchart TB\n")
    labels, edges = mermaid_edges(text)
    names = full_names(text, labels)
    got = {(names[a], names[b], label) for a, b, label in edges}
    assert got == expected_edges(analysis)
    assert text.count("subgraph") == text.count("\n  end") + text.count("\n    end")


def test_residual_and_unet_merges_have_both_branches() -> None:
    from convcalc.render.graph import to_mermaid

    _, edges = mermaid_edges(to_mermaid(convcalc.analyze(RESIDUAL)))
    assert len([e for e in edges if e[1] == "n4"]) == 2  # the Add reads stem and b
    unet = convcalc.analyze(UNET)
    text = to_mermaid(unet)
    labels, edges = mermaid_edges(text)
    names = full_names(text, labels)
    into: dict[str, list[tuple[str, str]]] = {}
    for a, b, label in sorted(edges):
        into.setdefault(names[b], []).append((names[a], label))
    into = {k: sorted(v) for k, v in into.items()}
    assert into["crop"] == [("enc.conv2", "[1, 8, 40, 40]"), ("up", "[1, 8, 32, 32]")]
    assert into["cat"] == [("crop", "[1, 8, 32, 32]"), ("up", "[1, 8, 32, 32]")]
    assert 'subgraph g1["enc"]' in text


@pytest.mark.parametrize("source", [RESIDUAL, UNET], ids=["residual", "unet"])
def test_dot_graph_has_every_edge_and_renders(source: str, tmp_path: Path) -> None:
    from convcalc.render.graph import to_dot

    analysis = convcalc.analyze(source)
    text = to_dot(analysis, direction="LR")
    assert text.startswith(f'digraph "{analysis.name}" {{') and "rankdir=LR" in text
    ids = set(re.findall(r'^\s*(\w+) \[label="', text, re.M))
    boxes = set(re.findall(r'subgraph cluster_\d+ \{\n\s*label="([^"]*)"', text))
    assert boxes == ({"enc", "mid", "dec"} if "enc" in source else set())
    edges = re.findall(r'^\s*(\w+) -> (\w+) \[label="([^"]*)"\];$', text, re.M)
    assert sorted(label for *_, label in edges) == sorted(label for *_, label in expected_edges(analysis))
    assert {a for a, _, _ in edges} | {b for _, b, _ in edges} == ids  # every node is connected
    if shutil.which("dot"):
        done = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "<svg" in done.stdout, done.stderr


def test_graph_command_formats_and_output_file(tmp_path: Path) -> None:
    spec = tmp_path / "res.yaml"
    spec.write_text(RESIDUAL)
    result = runner.invoke(app, ["graph", str(spec)])
    assert result.exit_code == 0 and result.stdout.startswith("flowchart TB")
    target = tmp_path / "g.dot"
    result = runner.invoke(app, ["graph", str(spec), "--format", "dot", "--flat", "-o", str(target)])
    assert result.exit_code == 0 and result.stdout == ""
    assert target.read_text().startswith("digraph") and "subgraph" not in target.read_text()
    result = runner.invoke(app, ["graph", "--arch", "unet", "--direction", "LR"])
    assert result.exit_code == 0 and "flowchart LR" in result.stdout and "[1, 2, 388, 388]" in result.stdout


def test_graph_of_an_invalid_spec_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("input: [1, 3, 8, 8]\nlayers:\n  - {type: Add, inputs: [nope]}\n")
    result = runner.invoke(app, ["graph", str(spec)])
    assert result.exit_code == 2 and "nope" in result.stderr


# -- plots -----------------------------------------------------------------------------------------


def test_bar_glyphs() -> None:
    from convcalc.render.plot import bar, bar_width_for

    assert bar(0, 6) == " " * 6
    assert bar(1, 6) == "█" * 6
    assert bar(0.5, 6) == "███   "
    assert bar(1 / 48, 6) == "▏     "
    assert bar(1e-9, 6) == "▏     "  # nonzero never looks like zero
    assert bar(2, 4) == "████"
    assert bar_width_for(100, 3) == 14 and bar_width_for(20, 3) == 0 and bar_width_for(30, 3) == 7


def test_summary_table_shows_bars_when_the_terminal_is_wide_enough() -> None:
    from rich.console import Console

    from convcalc.render.columns import COLUMN_SETS
    from convcalc.render.table import render_table

    analysis = convcalc.analyze(RESIDUAL)
    wide = Console(width=200, record=True, no_color=True, force_terminal=False)
    render_table(analysis, COLUMN_SETS["summary"], wide, bars=True)
    text = wide.export_text()
    assert "of max" in text and "/input" in text
    row = next(line for line in text.splitlines() if line.lstrip("│ ").startswith("b "))
    assert "█" in row  # b has the most MACs (tied with a): a full bar
    narrow = Console(width=80, record=True, no_color=True, force_terminal=False)
    render_table(analysis, COLUMN_SETS["summary"], narrow, bars=True)
    assert "of max" not in narrow.export_text()


def test_a_narrow_terminal_wraps_names_but_never_cuts_numbers() -> None:
    from rich.console import Console

    from convcalc.render.columns import COLUMN_SETS
    from convcalc.render.table import render_table

    analysis = convcalc.analyze(convcalc.load_arch("resnet50"))
    console = Console(width=80, record=True, no_color=True, force_terminal=False)
    render_table(analysis, COLUMN_SETS["summary"], console, bars=True)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for number in ("9.41K", "118.0M", "236.0M", "[1, 64, 112, 112]", "25.56M", "4.09G", "global"):
        assert number in text


def test_rf_fraction_follows_the_receptive_field() -> None:
    from convcalc.render.plot import rf_fraction

    analysis = convcalc.analyze(RESIDUAL)
    fractions = [rf_fraction(r, [16, 16]) for r in analysis.layers]
    assert fractions == [min(r.receptive_field.size[0] / 16, 1.0) for r in analysis.layers]
    assert fractions[0] == 3 / 16 and fractions[-1] == 8 / 16


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_summary_plot_writes_a_figure(tmp_path: Path, suffix: str, magic: bytes) -> None:
    spec = tmp_path / "unet.yaml"
    spec.write_text(UNET)
    target = tmp_path / f"fig{suffix}"
    result = runner.invoke(app, ["summary", str(spec), "--plot", str(target)])
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(magic) and len(data) > 10_000
    if suffix == ".svg":
        text = data.decode()
        assert "Receptive field of output" in text and "MACs per layer" in text


def test_plot_of_a_1d_net_has_no_field_picture(tmp_path: Path) -> None:
    from convcalc.render.plot import _spatial_layer, write_figure

    analysis = convcalc.analyze(ROOT / "specs" / "examples" / "tcn_1d.yaml")
    assert _spatial_layer(analysis) is None
    write_figure(analysis, tmp_path / "tcn.svg")
    assert "Receptive field growth" in (tmp_path / "tcn.svg").read_text()


def test_rf_picture_picks_the_deepest_grid_layer() -> None:
    from convcalc.render.plot import _spatial_layer

    analysis = convcalc.analyze(convcalc.load_arch("resnet50"))
    assert _spatial_layer(analysis).name == "layer4.2.relu3"
    assert _spatial_layer(convcalc.analyze(convcalc.load_arch("unet"))).name == "head"
    assert _spatial_layer(convcalc.analyze(convcalc.load_arch("dcgan_generator"))) is None  # 1x1 latent input


def test_plot_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "res.yaml"
    spec.write_text(RESIDUAL)
    result = runner.invoke(app, ["summary", str(spec), "--plot", str(tmp_path / "fig.jpeg")])
    assert result.exit_code == 2 and "png, svg, pdf" in result.stderr
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the plot extra were not installed
    result = runner.invoke(app, ["summary", str(spec), "--plot", str(tmp_path / "fig.png")])
    assert result.exit_code == 2 and "convcalc[plot]" in result.stderr


def test_matplotlib_is_imported_only_for_plots() -> None:
    code = ("import sys; from typer.testing import CliRunner; from convcalc.cli import app; "
            f"r = CliRunner().invoke(app, ['summary', {str(ROOT / 'specs/examples/small_net.yaml')!r}]); "
            "print(r.exit_code, 'matplotlib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["0", "False"]


# -- CI integration --------------------------------------------------------------------------------


def test_pre_commit_hook_offers_convcalc_check() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    by_id = {hook["id"]: hook for hook in hooks}
    hook = by_id["convcalc-check"]
    assert hook["entry"].split()[:2] == ["convcalc", "check"]
    assert hook["language"] == "python"
    pattern = re.compile(hook["files"])
    assert pattern.search("specs/resnet50.yaml") and pattern.search("models/specs/net.yml")
    assert not pattern.search(".github/workflows/ci.yml")
    assert "check" in visible_commands()
    for extra in hook["entry"].split()[2:]:
        assert extra in option_names(visible_commands()["check"]) or not extra.startswith("-")


def test_commands_in_the_readme_exist() -> None:
    doc = (ROOT / "README.md").read_text()
    fence = re.compile(r"^(`{3,})[a-z]*\n(.*?)^\1$", re.S | re.M)
    blocks = [m.group(2) for m in fence.finditer(doc)]
    code = "\n".join(blocks + re.findall(r"`([^`\n]+)`", fence.sub("", doc)))
    used = set(re.findall(r"\bconvcalc ([a-z][a-z-]*)", code))
    assert {"completions", "schema", "graph", "check", "summary"} <= used
    assert used <= set(visible_commands()), used - set(visible_commands())
