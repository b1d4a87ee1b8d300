"""Imported layers as a readable spec: repeated module structures folded into blocks, and YAML out.

A module call (a torchvision Bottleneck, an InvertedResidual) whose layers form one contiguous run,
read one tensor from outside and are read from outside only through the last one, is a block
instance. Instances of one class with the same structure (the same layers, types and wiring) become
one block; the arguments that differ between them become the block's parameters (default: the most
common value). Consecutive instances `P.0` .. `P.n-1` that fill the container `P` become one `repeat`
(with `first:` where the first differs). Folding changes the spec's text, never its layers: the
expanded spec has the same names, types, arguments and inputs as the flat one (tests check this).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from torch import nn

from convcalc.layers.base import REQUIRED, lookup
from convcalc.spec.expand import NET_INPUT
from convcalc.spec.expr import SHAPE_VARIABLES
from convcalc.torch_backend.importer import Emitted

_RESERVED = {"i", "int", "float", "round", "min", "max", "abs", "floor", "ceil", "make_divisible", "len",
             "True", "False", "None", *SHAPE_VARIABLES}


def layer_items(layers: Sequence[Emitted], first_prev: str | None = NET_INPUT) -> list[dict[str, Any]]:
    """Spec items for layers as they are: `inputs` written only where it is not the layer before."""
    items = []
    prev = first_prev
    for layer in layers:
        item: dict[str, Any] = {"name": layer.name, "type": layer.type}
        if layer.inputs != [prev]:
            item["inputs"] = list(layer.inputs)
        item.update(layer.args)
        items.append(item)
        prev = None if layer.multi_output else layer.name  # `prev` cannot mean several outputs
    return items


# --------------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------------


@dataclass
class _Instance:
    key: str
    qualified: str
    kind: type
    depth: int
    start: int
    end: int  # inclusive
    external: str  # the one tensor it reads from outside
    signature: tuple[Any, ...]
    locals: list[str]
    inputs: list[list[str]]  # each layer's inputs by local name (`input`: the block's input)


# Plain containers are not blocks: a Sequential of three Bottlenecks reads better as three block uses
# (or one `repeat`) than as a block of thirty layers; their subclasses (torchvision's
# Conv2dNormActivation) are real building blocks.
_CONTAINERS = {nn.Sequential, nn.ModuleList, nn.ModuleDict}


def _instances(layers: Sequence[Emitted]) -> list[_Instance]:
    spans: dict[str, list[int]] = {}
    info: dict[str, tuple[str, type, int]] = {}
    for index, layer in enumerate(layers):
        for depth, (key, qualified, kind) in enumerate(layer.scopes):
            spans.setdefault(key, []).append(index)
            info[key] = (qualified, kind, depth)
    readers: dict[str, list[int]] = {}
    for index, layer in enumerate(layers):
        for ref in layer.inputs:
            readers.setdefault(ref, []).append(index)
    found = []
    for key, indices in spans.items():
        qualified, kind, depth = info[key]
        start, end = indices[0], indices[-1]
        if not qualified or "@" in key or indices != list(range(start, end + 1)) or kind in _CONTAINERS:
            continue  # the top level, a second call of a module, interleaved layers, or a plain container
        members = layers[start:end + 1]
        prefix = qualified + "."
        if not all(m.name.startswith(prefix) for m in members):
            continue
        locals_ = [m.name[len(prefix):] for m in members]
        if any(local in (NET_INPUT, "prev") for local in locals_):
            continue
        names = {m.name for m in members}
        multi = {m.name for m in members if m.multi_output}

        def internal(ref: str, names: set[str] = names, multi: set[str] = multi) -> bool:
            base, _, index = ref.rpartition(".")
            return ref in names or (base in multi and index.isdigit())

        external = {ref for m in members for ref in m.inputs if not internal(ref)}
        last = members[-1]
        if len(external) != 1 or last.multi_output:
            continue
        # read from outside only through the last layer
        if any(internal(ref) and ref != last.name and (i < start or i > end)
               for ref, indices in readers.items() for i in indices):
            continue
        inputs = [[ref[len(prefix):] if internal(ref) else NET_INPUT for ref in m.inputs] for m in members]
        signature = (kind, tuple((loc, m.type, tuple(ins), m.multi_output)
                                 for loc, m, ins in zip(locals_, members, inputs)))
        found.append(_Instance(key, qualified, kind, depth, start, end, next(iter(external)), signature,
                               locals_, inputs))
    return found


def _select(instances: list[_Instance]) -> list[_Instance]:
    """The outermost instances whose structure repeats (at their depth), none inside another chosen one."""
    chosen: list[_Instance] = []
    for depth in sorted({i.depth for i in instances}):
        level = [i for i in instances if i.depth == depth
                 and not any(c.start <= i.start and i.end <= c.end for c in chosen)]
        counts = Counter(i.signature for i in level)
        chosen.extend(i for i in level if counts[i.signature] >= 2)
    return sorted(chosen, key=lambda i: i.start)


def _default_of(type_name: str, arg_name: str) -> Any:
    for arg in lookup(type_name).args:
        if arg.name == arg_name:
            return None if arg.default is REQUIRED else arg.default
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().strip("_") or "block"


def _param_name(local: str, key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{key}_{local}")


def fold(layers: Sequence[Emitted]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(blocks, layer items) for the spec; without repeated structure, no blocks and the flat items."""
    chosen = _select(_instances(layers))
    if not chosen:
        return {}, layer_items(layers)
    groups: dict[tuple[Any, ...], list[_Instance]] = {}
    for instance in chosen:
        groups.setdefault(instance.signature, []).append(instance)
    blocks: dict[str, Any] = {}
    uses: dict[str, tuple[str, dict[str, Any]]] = {}  # instance key -> (block, its parameter values)
    names = _block_names(list(groups.values()))
    for group in groups.values():
        block_name = names[group[0].signature]
        definition, values = _block(group, layers)
        blocks[block_name] = definition
        for instance, params in zip(group, values):
            uses[instance.key] = (block_name, params)
    items: list[dict[str, Any]] = []
    prev: str | None = NET_INPUT
    index = 0
    starts = {i.start: i for i in chosen}
    while index < len(layers):
        instance = starts.get(index)
        if instance is None:
            items.extend(layer_items([layers[index]], prev))
            prev = None if layers[index].multi_output else layers[index].name
            index += 1
            continue
        block_name, params = uses[instance.key]
        item: dict[str, Any] = {"name": instance.qualified, "block": block_name}
        if instance.external != prev:
            item["inputs"] = [instance.external]
        item.update(params)
        items.append(item)
        prev = layers[instance.end].name
        index = instance.end + 1
    return blocks, _repeats(items, blocks, layers)


def _block_names(groups: list[list[_Instance]]) -> dict[tuple[Any, ...], str]:
    """A name per block: its module class (bottleneck); a variant of the same class with more layers is
    named after the first part the smallest one lacks (bottleneck_downsample), else numbered."""
    names: dict[tuple[Any, ...], str] = {}
    by_class: dict[type, list[list[_Instance]]] = {}
    for group in groups:
        by_class.setdefault(group[0].kind, []).append(group)
    for kind, variants in by_class.items():
        base = _snake(kind.__name__)
        variants.sort(key=lambda g: (len(g[0].locals), g[0].start))
        smallest = set(variants[0][0].locals)
        for index, group in enumerate(variants):
            name = base
            if index:
                extra = [local.split(".")[0] for local in group[0].locals if local not in smallest]
                name = f"{base}_{extra[0]}" if extra and re.fullmatch(r"[A-Za-z_]\w*", extra[0]) else base
            candidate, k = name, 1
            while candidate in names.values():
                k += 1
                candidate = f"{name}_{k}"
            names[group[0].signature] = candidate
    return names


def _block(group: list[_Instance], layers: Sequence[Emitted]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One block for instances of the same structure, and each instance's parameter values."""
    first = group[0]
    members = [layers[i.start:i.end + 1] for i in group]
    # every (layer, argument) that differs between instances; equal value vectors share one parameter
    varying: dict[tuple[Any, ...], list[tuple[int, str]]] = {}
    constant: dict[tuple[int, str], Any] = {}
    for position, local in enumerate(first.locals):
        keys = list(dict.fromkeys(k for m in members for k in m[position].args))
        for key in keys:
            vector = tuple(_freeze(m[position].args.get(key, _default_of(m[position].type, key))) for m in members)
            if len(set(vector)) == 1:
                if key in members[0][position].args:
                    constant[(position, key)] = members[0][position].args[key]
            else:
                varying.setdefault(vector, []).append((position, key))
    names: dict[tuple[Any, ...], str] = {}
    key_count = Counter(positions[0][1] for positions in varying.values())
    for vector, positions in varying.items():
        position, key = positions[0]
        name = key if key_count[key] == 1 and key not in _RESERVED else _param_name(first.locals[position], key)
        while name in names.values() or name in _RESERVED:
            name += "_"
        names[vector] = name
    defaults = {names[v]: _thaw(Counter(v).most_common(1)[0][0]) for v in varying}
    by_position: dict[tuple[int, str], str] = {p: names[v] for v, positions in varying.items() for p in positions}
    block_layers: list[dict[str, Any]] = []
    prev: str | None = NET_INPUT
    for position, (local, layer, inputs) in enumerate(zip(first.locals, members[0], first.inputs)):
        item: dict[str, Any] = {"name": local, "type": layer.type}
        if inputs != [prev]:
            item["inputs"] = inputs
        keys = list(dict.fromkeys(k for m in members for k in m[position].args))
        for key in keys:
            if (position, key) in by_position:
                item[key] = f"${by_position[(position, key)]}"
            elif (position, key) in constant:
                item[key] = constant[(position, key)]
        block_layers.append(item)
        prev = None if layer.multi_output else local
    values = []
    for index in range(len(group)):
        params = {}
        for vector, name in names.items():
            value = _thaw(vector[index])
            if value != defaults[name]:
                params[name] = value
        values.append(params)
    definition: dict[str, Any] = {}
    if defaults:
        definition["params"] = defaults
    definition["layers"] = block_layers
    return definition, values


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


def _thaw(value: Any) -> Any:
    return [_thaw(v) for v in value] if isinstance(value, tuple) else value


def _repeats(items: list[dict[str, Any]], blocks: dict[str, Any], layers: Sequence[Emitted]) -> list[dict[str, Any]]:
    """Runs of block uses P.0 .. P.n-1 that make up all of P, as one item with `repeat` (and `first`)."""
    out: list[dict[str, Any]] = []
    index = 0
    names = [layer.name for layer in layers]
    used = {item["name"] for item in items}
    while index < len(items):
        run = _run_at(items, index)
        if run > 1:
            group = items[index:index + run]
            parent = group[0]["name"][:-2]
            inside = [n for n in names if n.startswith(parent + ".")]
            covered = [n for n in inside if any(n.startswith(item["name"] + ".") for item in group)]
            if len(inside) == len(covered) and parent not in used and parent not in names:
                out.append(_repeat_item(parent, group, blocks))
                index += run
                continue
        out.append(items[index])
        index += 1
    return out


def _run_at(items: list[dict[str, Any]], index: int) -> int:
    head = items[index]
    if "block" not in head or not head["name"].endswith(".0") or len(head["name"]) < 3:
        return 0
    parent = head["name"][:-2]
    count = 1
    while index + count < len(items):
        item = items[index + count]
        if (item.get("block") != head["block"] or item.get("name") != f"{parent}.{count}" or "inputs" in item
                or _params(item) != _params(items[index + 1])):
            break
        count += 1
    return count


def _params(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("name", "block", "inputs")}


def _repeat_item(parent: str, group: list[dict[str, Any]], blocks: dict[str, Any]) -> dict[str, Any]:
    defaults = blocks[group[0]["block"]].get("params", {})
    rest = _params(group[1])
    head = _params(group[0])
    first: dict[str, Any] = {}
    if "inputs" in group[0]:
        first["inputs"] = group[0]["inputs"]
    for key in dict.fromkeys([*head, *rest]):
        mine = head.get(key, defaults.get(key))
        theirs = rest.get(key, defaults.get(key))
        if mine != theirs:
            first[key] = mine
    item: dict[str, Any] = {"name": parent, "block": group[0]["block"], "repeat": len(group), **rest}
    if first:
        item["first"] = first
    return item


# --------------------------------------------------------------------------------------------------
# YAML, in the style of the hand-written specs: one flow mapping per layer
# --------------------------------------------------------------------------------------------------

_PLAIN = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_.\-/]*|\$[A-Za-z_][A-Za-z0-9_]*)$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:  # 1e-05 is a string to YAML 1.1 readers
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
            return value
        return json.dumps(value)
    return json.dumps(str(value))


def flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def to_yaml(spec: dict[str, Any], header: Sequence[str] = ()) -> str:
    """The spec as YAML: top-level keys in block style, each layer a one-line flow mapping."""
    lines = [f"# {line}" if line else "#" for line in header]
    for key, value in spec.items():
        if key in ("layers", "blocks"):
            continue
        lines.append(f"{scalar(key)}: {flow(value)}")
    if spec.get("blocks"):
        lines.append("blocks:")
        for name, block in spec["blocks"].items():
            lines.append(f"  {scalar(name)}:")
            if block.get("params"):
                lines.append(f"    params: {flow(block['params'])}")
            lines.append("    layers:")
            lines.extend(f"      - {flow(item)}" for item in block["layers"])
    lines.append("layers:")
    lines.extend(f"  - {flow(item)}" for item in spec["layers"])
    return "\n".join(lines) + "\n"


__all__ = ["flow", "fold", "layer_items", "scalar", "to_yaml"]
