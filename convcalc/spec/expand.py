"""From a parsed spec to a flat, ordered list of layer entries with resolved names and inputs.

Spec-level features handled here: spec variables (`params:`, overridable), named parameterised
`blocks`, `repeat`, `first` (overrides for the first repetition), `when` (conditional layers),
`$var` / `${expr}` substitution, automatic names and name scoping, and `inputs` resolution.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from convcalc.errors import Location, SpecError
from convcalc.spec.expr import (SHAPE_VARIABLES, ExprError, bind_deferred, find_deferred, reads_variable,
                                substitute)
from convcalc.spec.yamlload import SpecList, SpecMap, load_yaml

NET_INPUT = "input"
RESERVED_KEYS = ("type", "name", "inputs", "repeat", "first", "when", "expect", "block")
TOP_KEYS = ("name", "description", "input", "params", "blocks", "layers", "expect", "paper", "options", "against")


@dataclass(frozen=True)
class LayerEntry:
    """One layer as the spec states it, after expansion: what the analysis consumes."""

    name: str
    type: str
    args: Mapping[str, Any]
    inputs: tuple[str, ...]
    location: Location
    arg_locations: Mapping[str, Location] = field(default_factory=dict)
    expect: Mapping[str, Any] | None = None
    expect_location: Location | None = None


@dataclass(frozen=True)
class Spec:
    name: str
    input_shape: tuple[int, ...] | None
    layers: tuple[LayerEntry, ...]
    source: str | None = None
    description: str = ""
    expect: Mapping[str, Any] | None = None
    expect_location: Location | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    input_location: Location | None = None
    aliases: Mapping[str, str] = field(default_factory=dict)  # block and repeat-group names -> a layer
    against: str | None = None  # the PyTorch code this spec must equal (`validate --against`, `check`)
    against_location: Location | None = None


def _where(container: Any, key: Any = None) -> Location:
    if isinstance(container, SpecMap):
        return container.where(key) if key is not None else container.location
    if isinstance(container, SpecList):
        return container.location
    return Location()


def read_source(spec: Any) -> tuple[Any, str | None]:
    """Accept a mapping, a path (str or Path) to a YAML file, or a YAML string."""
    if isinstance(spec, Mapping):
        return spec, None
    if isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec and spec.endswith((".yaml", ".yml"))):
        path = Path(spec)
        if not path.is_file():
            raise SpecError(f"spec file not found: {path}", location=Location(str(path)),
                            hint="give a path to a .yaml spec, or --arch NAME for a built-in architecture")
        return load_yaml(path.read_text(encoding="utf-8"), str(path)), str(path)
    if isinstance(spec, str):
        return load_yaml(spec, None), None
    raise SpecError(f"a spec must be a mapping, a YAML string or a path, not {type(spec).__name__}")


def load_spec(spec: Any, overrides: Mapping[str, Any] | None = None) -> Spec:
    data, source = read_source(spec)
    return Expander(data, source, overrides or {}).run()


class _Scope:
    """Names visible inside one block instance (or the top level)."""

    def __init__(self, prefix: str, input_name: str, env: dict[str, Any], block: str | None = None) -> None:
        self.prefix = prefix
        self.input_name = input_name
        self.prev = input_name
        self.local: dict[str, str] = {}
        self.env = env
        self.block = block
        self.counters: dict[str, int] = {}

    def full(self, local_name: str) -> str:
        return f"{self.prefix}.{local_name}" if self.prefix else local_name


class Expander:
    def __init__(self, data: Any, source: str | None, overrides: Mapping[str, Any]) -> None:
        self.data = data
        self.source = source
        self.overrides = overrides
        self.entries: list[LayerEntry] = []
        self.defined: dict[str, str] = {NET_INPUT: NET_INPUT}  # name -> the layer whose output it means
        self.all_declared: set[str] = set()
        self.block_depth = 0

    def _located(self, where: Location) -> Location:
        return where if where.file is not None else Location(self.source, where.line, where.column)

    def error(self, message: str, where: Location, hint: str | None = None, layer: str | None = None,
              layer_type: str | None = None) -> SpecError:
        return SpecError(message, location=self._located(where), hint=hint, layer=layer, layer_type=layer_type)

    # -- top level ----------------------------------------------------------------------------------
    def run(self) -> Spec:
        data = self.data
        if not isinstance(data, Mapping):
            raise self.error("a spec must be a mapping with 'input' and 'layers'", _where(data),
                             hint="start the file with `name:`, `input: [1, 3, 224, 224]` and `layers:`")
        for key in data:
            if key not in TOP_KEYS:
                close = difflib.get_close_matches(str(key), TOP_KEYS, n=1)
                raise self.error(f"unknown top-level key '{key}'", _where(data, key),
                                 hint=(f"did you mean '{close[0]}'? " if close else "")
                                 + f"top-level keys are: {', '.join(TOP_KEYS)}")
        env = self._spec_params(data)
        name = data.get("name") or (Path(self.source).stem if self.source else "network")
        if not isinstance(name, str):
            raise self.error("'name' must be a string", _where(data, "name"))
        input_shape = self._input_shape(data, env)
        self.blocks = data.get("blocks") or {}
        if not isinstance(self.blocks, Mapping):
            raise self.error("'blocks' must be a mapping of block name -> {params, layers}", _where(data, "blocks"))
        layers = data.get("layers")
        if not isinstance(layers, list) or not layers:
            raise self.error("'layers' must be a non-empty list", _where(data, "layers" if "layers" in data else None),
                             hint="e.g. layers:\n    - {type: Conv2d, out_channels: 16, kernel_size: 3}")
        self._collect_declared(layers)
        for block in self.blocks.values():
            if isinstance(block, Mapping):
                self._collect_declared(block.get("layers") or [])
        scope = _Scope("", NET_INPUT, env)
        self._expand_list(layers, scope)
        expect = data.get("expect")
        if expect is not None and not isinstance(expect, Mapping):
            raise self.error("'expect' must be a mapping", _where(data, "expect"))
        against = data.get("against")
        if against is not None and (not isinstance(against, str) or ":" not in against):
            raise self.error(f"'against' must be a model target like 'package.module:callable', got {against!r}",
                             _where(data, "against"),
                             hint="e.g. against: \"torchvision.models:resnet50\" or against: models.py:Net")
        return Spec(
            name=name, input_shape=input_shape, layers=tuple(self.entries), source=self.source,
            description=str(data.get("description") or ""), expect=self._subst(expect, env, _where(data, "expect")),
            expect_location=_where(data, "expect") if expect is not None else None, params=env,
            input_location=_where(data, "input") if "input" in data else None,
            aliases={k: v for k, v in self.defined.items() if k != v},
            against=against, against_location=_where(data, "against") if against is not None else None,
        )

    def _spec_params(self, data: Mapping[str, Any]) -> dict[str, Any]:
        params = data.get("params") or {}
        if not isinstance(params, Mapping):
            raise self.error("'params' must be a mapping of variable -> default", _where(data, "params"))
        env = dict(params)
        for key, value in self.overrides.items():
            if key not in env:
                known = ", ".join(env) or "none"
                raise self.error(f"this spec has no parameter '{key}' to set", _where(data, "params"),
                                 hint=f"its parameters: {known}")
            env[key] = value
        for key, value in list(env.items()):  # defaults may refer to earlier parameters
            env[key] = self._subst(value, env, _where(params, key))
        return env

    def _input_shape(self, data: Mapping[str, Any], env: Mapping[str, Any]) -> tuple[int, ...] | None:
        if "input" not in data:
            return None
        where = _where(data, "input")
        shape = self._subst(data["input"], env, where)
        if (not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in shape)
                or not 2 <= len(shape) <= 5 or any(s < 1 for s in shape)):
            raise self.error(
                f"'input' must be [N, C, *spatial] with 0 to 3 spatial dims of positive integers, got {shape!r}",
                where, hint="e.g. input: [1, 3, 224, 224]",
            )
        return tuple(shape)

    def _collect_declared(self, items: Any) -> None:
        for item in items if isinstance(items, list) else []:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                self.all_declared.add(item["name"])

    def _subst(self, value: Any, env: Mapping[str, Any], where: Location, layer: str | None = None,
               incoming: str | None = None) -> Any:
        """Substitute variables; `incoming` names the layer whose output shape the expression may read
        (a layer's first input, a block's input). Elsewhere the incoming shape is an error."""
        if isinstance(value, Mapping):
            return {k: self._subst(v, env, _where(value, k) if isinstance(value, SpecMap) else where, layer,
                                   incoming)
                    for k, v in value.items()}
        try:
            result = substitute(value, env)
        except ExprError as exc:
            raise self.error(str(exc), where, layer=layer) from None
        deferred = find_deferred(result)
        if deferred is None:
            return result
        if incoming is None:
            raise self.error(
                f"'{deferred.variable}' (the incoming shape) is not known here: the structure of a spec "
                "(names, inputs, when, repeat, blocks, the input, spec params and expectations) is fixed "
                "before any shape is computed", where, layer=layer,
                hint=f"read {', '.join(SHAPE_VARIABLES)} only in a layer's arguments or a block's parameters")
        return bind_deferred(result, incoming)

    # -- lists, repeats, blocks ---------------------------------------------------------------------
    def _expand_list(self, items: list[Any], scope: _Scope) -> None:
        for item in items:
            if not isinstance(item, Mapping):
                raise self.error(f"each layer must be a mapping like {{type: Conv2d, ...}}, got {item!r}",
                                 _where(items), layer=None)
            self._expand_item(item, scope)

    def _expand_item(self, item: Mapping[str, Any], scope: _Scope) -> None:
        where = _where(item)
        named = scope.full(item["name"]) if isinstance(item.get("name"), str) else None  # for messages
        if "when" in item:
            condition = self._subst(item["when"], scope.env, _where(item, "when"), named)
            if not isinstance(condition, bool):
                raise self.error(f"'when' must be true or false, got {condition!r}", _where(item, "when"))
            if not condition:
                return
        repeat = self._subst(item.get("repeat", None), scope.env, _where(item, "repeat"), named)
        if repeat is not None and (not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 0):
            raise self.error(f"'repeat' must be a non-negative integer, got {repeat!r}", _where(item, "repeat"))
        first = item.get("first")
        if first is not None and (repeat is None or not isinstance(first, Mapping)):
            raise self.error("'first' (overrides for the first repetition) needs 'repeat' and a mapping",
                             _where(item, "first"))
        if "type" in item and "block" in item:
            raise self.error("a layer has either 'type' or 'block', not both", where)
        if "type" not in item and "block" not in item:
            raise self.error("a layer needs 'type' (a PyTorch layer class) or 'block' (a block of this spec)",
                             where, hint="e.g. {type: Conv2d, out_channels: 16, kernel_size: 3}")
        raw_name = item.get("name")
        # Under `repeat`, a name that reads `$i` names each repetition itself (`denselayer${i + 1}`:
        # torchvision's DenseNet counts its layers from 1) instead of the group's `name.0`, `name.1`, ...
        own_names = repeat is not None and reads_variable(raw_name, "i")
        if raw_name is not None and not own_names:
            raw_name = self._name(item, scope.env)
        count = 1 if repeat is None else repeat
        for index in range(count):
            overrides: Mapping[str, Any] = first if (first is not None and index == 0) else {}
            env = dict(scope.env, i=index) if repeat is not None else scope.env
            merged: dict[str, Any] = {k: v for k, v in item.items() if k not in ("repeat", "first", "when")}
            merged.update(overrides)
            local = None
            if own_names:
                local = self._name(item, env)
            elif raw_name is not None:
                local = f"{raw_name}.{index}" if repeat is not None else raw_name
            if "block" in merged:
                self._expand_block(merged, item, scope, env, local)
            else:
                self._expand_layer(merged, item, scope, env, local)
        if repeat is not None and raw_name is not None and count and not own_names:
            # the repeated group's name means its last repetition
            scope.local[raw_name] = scope.prev
            self.defined.setdefault(scope.full(raw_name), scope.prev)

    def _name(self, item: Mapping[str, Any], env: Mapping[str, Any]) -> str:
        name = self._subst(item["name"], env, _where(item, "name"))
        if not isinstance(name, str) or not name or name in (NET_INPUT, "prev"):
            raise self.error(f"'name' must be a non-empty string other than 'input' and 'prev', got {name!r}",
                             _where(item, "name"))
        return name

    def _auto_name(self, scope: _Scope, base: str) -> str:
        n = scope.counters.get(base, 0) + 1
        scope.counters[base] = n
        candidate = f"{base}_{n}"
        while scope.full(candidate) in self.defined or candidate in self.all_declared:
            n += 1
            scope.counters[base] = n
            candidate = f"{base}_{n}"
        return candidate

    def _claim(self, scope: _Scope, local: str, where: Location) -> str:
        full = scope.full(local)
        if full in self.defined:
            raise self.error(f"the name '{full}' is used twice", where,
                             hint="give each layer a unique name (names inside a block are prefixed)")
        self.defined[full] = full
        return full

    def _resolve_inputs(self, item: Mapping[str, Any], original: Mapping[str, Any], scope: _Scope,
                        env: Mapping[str, Any], layer: str, layer_type: str | None) -> tuple[str, ...]:
        if "inputs" not in item:
            return (scope.prev,)
        where = _where(original, "inputs")
        if where.line is None and isinstance(original.get("first"), SpecMap):
            where = original["first"].where("inputs")
        refs = self._subst(item["inputs"], env, where, layer)
        if isinstance(refs, str):
            refs = [refs]
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise self.error("'inputs' must be a layer name or a non-empty list of layer names", where,
                             layer=layer, layer_type=layer_type)
        return tuple(self._resolve_ref(r, scope, where, layer, layer_type) for r in refs)

    def _resolve_ref(self, ref: str, scope: _Scope, where: Location, layer: str, layer_type: str | None) -> str:
        if ref == "prev":
            return scope.prev
        if ref == NET_INPUT:
            return scope.input_name
        if ref in scope.local:
            return scope.local[ref]
        if ref in self.defined and ref != NET_INPUT:
            return self.defined[ref]
        base, dot, index = ref.rpartition(".")
        if dot and index.isdigit() and base not in ("prev", NET_INPUT):
            # output `index` of a multi-output layer (Split, Chunk): the analysis checks that it has one
            found = scope.local.get(base) or self.defined.get(base)
            if found is not None:
                return f"{found}.{int(index)}"
        elif dot and index.isdigit() and base == "prev":
            return f"{scope.prev}.{int(index)}"
        visible = sorted(set(scope.local) | (set(self.defined) - {NET_INPUT}) | {"input", "prev"})
        if ref in self.all_declared or scope.full(ref) in self.all_declared:
            raise self.error(
                f"'inputs' refers to '{ref}', which is defined later: a layer can only read layers above it",
                where, layer=layer, layer_type=layer_type,
                hint="reorder the layers; cycles are not allowed in a network graph",
            )
        close = difflib.get_close_matches(ref, visible, n=1)
        raise self.error(f"'inputs' refers to '{ref}', which is not a layer defined above", where,
                         layer=layer, layer_type=layer_type,
                         hint=f"did you mean '{close[0]}'?" if close else "names visible here: "
                         + ", ".join(visible[:12]))

    def _expand_layer(self, item: Mapping[str, Any], original: Mapping[str, Any], scope: _Scope,
                      env: Mapping[str, Any], local: str | None) -> None:
        where = _where(original)
        layer_type = self._subst(item["type"], env, _where(original, "type"))
        if not isinstance(layer_type, str):
            raise self.error(f"'type' must be a layer class name, got {layer_type!r}", _where(original, "type"))
        local = local or self._auto_name(scope, layer_type.lower())
        full = scope.full(local)
        inputs = self._resolve_inputs(item, original, scope, env, full, layer_type)
        args: dict[str, Any] = {}
        arg_locations: dict[str, Location] = {"type": _where(original, "type")}
        for key, value in item.items():
            if key in RESERVED_KEYS:
                continue
            loc = _where(original, key)
            if original.get(key) is not value and isinstance(original.get("first"), SpecMap):
                loc = original["first"].where(key)
            args[key] = self._subst(value, env, loc, full, incoming=inputs[0])
            arg_locations[key] = loc
        arg_locations["inputs"] = _where(original, "inputs") if "inputs" in original else where
        expect = item.get("expect")
        if expect is not None and not isinstance(expect, Mapping):
            raise self.error("'expect' must be a mapping", _where(original, "expect"), layer=full)
        self._claim(scope, local, _where(original, "name") if "name" in original else where)
        self.entries.append(LayerEntry(
            name=full, type=layer_type, args=args, inputs=inputs,
            location=self._located(where),
            arg_locations={k: self._located(v) for k, v in arg_locations.items()},
            expect=self._subst(expect, env, _where(original, "expect"), full),
            expect_location=_where(original, "expect") if expect is not None else None,
        ))
        scope.local[local] = full
        scope.prev = full

    def _expand_block(self, item: Mapping[str, Any], original: Mapping[str, Any], scope: _Scope,
                      env: Mapping[str, Any], local: str | None) -> None:
        where = _where(original, "block")
        block_name = self._subst(item["block"], env, where)
        block = self.blocks.get(block_name) if isinstance(block_name, str) else None
        if block is None:
            close = difflib.get_close_matches(str(block_name), [str(b) for b in self.blocks], n=1)
            raise self.error(f"unknown block '{block_name}'", where,
                             hint=f"did you mean '{close[0]}'?" if close else
                             f"blocks defined in this spec: {', '.join(map(str, self.blocks)) or 'none'}")
        if not isinstance(block, Mapping) or not isinstance(block.get("layers"), list):
            raise self.error(f"block '{block_name}' must be a mapping with 'layers' (and optional 'params')",
                             _where(self.blocks, block_name))
        for key in block:
            if key not in ("params", "layers", "output", "description"):
                raise self.error(f"unknown key '{key}' in block '{block_name}'", _where(block, key),
                                 hint="a block has 'params', 'layers', 'output' and 'description'")
        self.block_depth += 1
        if self.block_depth > 32:
            raise self.error(f"block '{block_name}' uses itself (recursion)", where)
        declared = block.get("params") or {}
        if not isinstance(declared, Mapping):
            raise self.error("a block's 'params' must be a mapping of name -> default (null: required)",
                             _where(block, "params"))
        local = local or self._auto_name(scope, str(block_name))
        prefix = scope.full(local)
        inputs = self._resolve_inputs(item, original, scope, env, prefix, None)
        if len(inputs) != 1:
            raise self.error("a block takes exactly one input", _where(original, "inputs"), layer=prefix)
        block_env: dict[str, Any] = dict(env)
        passed = {k: v for k, v in item.items() if k not in RESERVED_KEYS}
        for key in passed:
            if key not in declared:
                close = difflib.get_close_matches(str(key), [str(d) for d in declared], n=1)
                raise self.error(f"block '{block_name}' has no parameter '{key}'", _where(original, key),
                                 hint=(f"did you mean '{close[0]}'? " if close else "")
                                 + f"its parameters: {', '.join(map(str, declared)) or 'none'}")
        for key, default in declared.items():
            if key in passed:
                loc = _where(original, key)
                block_env[key] = self._subst(passed[key], env, loc, incoming=inputs[0])
            elif default is None:
                raise self.error(f"block '{block_name}' needs parameter '{key}'", _where(original),
                                 hint=f"add {key}: <value> to this use of the block")
            else:
                block_env[key] = self._subst(default, block_env, _where(declared, key), incoming=inputs[0])
        self._claim(scope, local, _where(original, "name") if "name" in original else where)
        inner = _Scope(prefix, inputs[0], block_env, str(block_name))
        self._expand_list(block["layers"], inner)
        out = inner.prev
        if "output" in block:
            ref = self._subst(block["output"], block_env, _where(block, "output"))
            out = self._resolve_ref(str(ref), inner, _where(block, "output"), prefix, None)
        self.block_depth -= 1
        self.defined[prefix] = out
        scope.local[local] = out
        scope.prev = out
