"""The JSON Schema of the spec format, derived from the layer registry (never written by hand).

Editors that speak the yaml-language-server protocol (VS Code's YAML extension, neovim, Helix, ...) read
it through the modeline `# yaml-language-server: $schema=...` at the top of a spec, and then complete
and check layer types and their arguments. `convcalc schema` prints it; the copy shipped next to this
module (`convcalc-spec.schema.json`) is regenerated with `python -m convcalc.schema` and a test keeps it
in sync with the registry.

The schema checks what the spec loader and the argument coercion check (keys, value types, choices); it
cannot check what depends on the incoming shape (channel counts, sizes), which the analysis reports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from convcalc.layers.base import REQUIRED, Arg

SCHEMA_FILE = Path(__file__).with_name("convcalc-spec.schema.json")
MODELINE_PREFIX = "# yaml-language-server: $schema="
DRAFT = "http://json-schema.org/draft-07/schema#"

# A `$name` or `${expr}` anywhere in a string: the spec loader substitutes it before types are checked,
# so such a string stands for a value of any type.
EXPR = {"$ref": "#/definitions/expr"}

Schema = dict[str, Any]


def _with_expr(*alternatives: Schema) -> list[Schema]:
    return [*alternatives, EXPR]


def _items(item: Schema) -> Schema:
    return {"anyOf": _with_expr(item)}


def _int_list(ndim: int | None, exact: bool, item: Schema | None = None) -> list[Schema]:
    """Arrays an `ints`-like argument accepts: one entry per spatial dim (or one entry, unless exact)."""
    entry = _items(item or {"type": "integer"})
    if ndim is None:
        return [{"type": "array", "items": entry, "minItems": 1}]
    lengths = [ndim] if exact or ndim == 1 else [1, ndim]
    return [{"type": "array", "items": entry, "minItems": n, "maxItems": n} for n in lengths]


def _choices(arg: Arg) -> list[Schema]:
    return [{"type": "string", "enum": list(arg.choices)}] if arg.choices else [{"type": "string"}]


# One entry per Arg kind in convcalc.layers.base._COERCERS; a test fails when a kind is missing here.
KIND_SCHEMAS: dict[str, Callable[[Arg, int | None], list[Schema]]] = {
    "int": lambda arg, ndim: [{"type": "integer"}],
    "float": lambda arg, ndim: [{"type": "number"}],
    "bool": lambda arg, ndim: [{"type": "boolean"}],
    "str": lambda arg, ndim: _choices(arg),
    "ints": lambda arg, ndim: [{"type": "integer"}, *_int_list(ndim, exact=False)],
    "ints_exact": lambda arg, ndim: [{"type": "integer"}, *_int_list(ndim, exact=True)],
    "padding": lambda arg, ndim: [{"type": "integer"}, *_int_list(ndim, exact=False), *_choices(arg)],
    "shape": lambda arg, ndim: [{"type": "integer"}, *_int_list(None, exact=False)],
    "opt_ints": lambda arg, ndim: [
        {"type": "integer"},
        *_int_list(ndim, exact=True, item={"type": ["integer", "null"]}),
    ],
    "floats": lambda arg, ndim: [{"type": "number"}, {"type": "array", "items": _items({"type": "number"}),
                                                      "minItems": 1}],
    "names": lambda arg, ndim: [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    "dims": lambda arg, ndim: [{"type": "integer"}, {"type": "array", "items": _items({"type": "integer"})}],
    "any": lambda arg, ndim: [{}],
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def arg_schema(arg: Arg, ndim: int | None) -> Schema:
    alternatives = KIND_SCHEMAS[arg.kind](arg, ndim)
    if {} in alternatives:  # anything goes, except null where the argument may not be null
        schema: Schema = {} if (arg.nullable or arg.default is None) else {"not": {"type": "null"}}
    else:
        if arg.nullable or arg.default is None:
            alternatives = [*alternatives, {"type": "null"}]
        schema = {"anyOf": _with_expr(*alternatives)}
    notes = [arg.doc] if arg.doc else []
    if arg.inferred:
        notes.append("inferred from the incoming shape when omitted")
    elif arg.default is REQUIRED:
        notes.append("required")
    else:
        notes.append(f"default: {json.dumps(_jsonable(arg.default))}")
        schema["default"] = _jsonable(arg.default)
    if arg.keyword_only:
        notes.append("keyword-only in inline expressions")
    schema["description"] = "; ".join(notes)
    return schema


def type_pattern(names: list[str]) -> str:
    """A regex matching any of `names` in any letter case (ECMA-262 has no inline case-insensitive flag)."""

    def one(name: str) -> str:
        return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in name)

    return "^(?:" + "|".join(one(n) for n in names) + ")$"


def _type_names(cls: Any) -> list[str]:
    return [cls.type_name, *cls.aliases]


# Keys every layer may carry besides its arguments (convcalc.spec.expand.RESERVED_KEYS, minus `block`).
def _layer_keys() -> dict[str, Schema]:
    return {
        "type": {"type": "string", "description": "the PyTorch class name (case-insensitive)"},
        "name": {"$ref": "#/definitions/name"},
        "inputs": {"$ref": "#/definitions/inputs"},
        "repeat": {"$ref": "#/definitions/repeat"},
        "first": {"$ref": "#/definitions/first"},
        "when": {"$ref": "#/definitions/when"},
        "expect": {"$ref": "#/definitions/layer_expect"},
    }


def _layer_definition(cls: Any) -> Schema:
    properties = _layer_keys()
    for arg in cls.args:
        properties[arg.name] = arg_schema(arg, cls.ndim)
    definition: Schema = {
        "title": cls.type_name,
        "description": getattr(cls, "summary", "") or cls.type_name,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    required = [arg.name for arg in cls.args if arg.required]
    if required:
        definition["required"] = required
    return definition


def _expect_schema(keys: tuple[str, ...]) -> Schema:
    properties: dict[str, Schema] = {}
    for key in keys:
        if key == "output_shape":
            properties[key] = {"anyOf": _with_expr({"type": "array", "items": _items({"type": "integer"})})}
        elif key == "receptive_field":
            per_axis = {"anyOf": _with_expr({"type": "array", "items": _items({"type": ["number", "null"]})})}
            properties[key] = {"type": "object", "properties": {"size": per_axis, "jump": per_axis,
                                                                 "start": per_axis},
                               "additionalProperties": False,
                               "description": "per spatial dim; null means global (jump after a global pool)"}
        else:
            properties[key] = {"anyOf": _with_expr({"type": "integer"})}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def build_schema() -> Schema:
    """The JSON Schema (draft-07) of a convcalc spec, from the layer registry as it is now."""
    from convcalc.analysis.core import _Analyzer
    from convcalc.layers.base import COMPOSITES, all_layer_types
    from convcalc.spec.expand import NET_INPUT, TOP_KEYS

    classes: list[Any] = list(all_layer_types())
    classes += sorted(set(COMPOSITES.values()), key=lambda c: c.type_name)
    # The exact names are offered for completion; the pattern accepts them in any letter case, as the
    # registry does (listing every lower-case variant too would double the editor's completion list).
    names = list(dict.fromkeys(name for cls in classes for name in _type_names(cls)))
    definitions: dict[str, Schema] = {
        "expr": {"type": "string", "pattern": r"\$(?:\{|[A-Za-z_])",
                 "description": "a spec expression, $var or ${expr}, replaced before the value is checked"},
        "name": {"type": "string", "minLength": 1, "not": {"enum": [NET_INPUT, "prev"]},
                 "description": "a unique layer name (inside a block, prefixed with the block's name)"},
        "inputs": {"anyOf": [{"type": "string"},
                             {"type": "array", "items": {"type": "string"}, "minItems": 1}],
                   "description": "the layers this one reads: names defined above, 'input' or 'prev'"},
        "repeat": {"anyOf": _with_expr({"type": "integer", "minimum": 0}),
                   "description": "repeat this layer or block N times; ${i} is the repetition index"},
        "first": {"type": "object", "description": "overrides for the first repetition (needs repeat)"},
        "when": {"anyOf": _with_expr({"type": "boolean"}), "description": "include the layer only when true"},
        "layer_expect": _expect_schema(_Analyzer._LAYER_EXPECT),
        "layer_item": {
            "type": "object",
            "if": {"required": ["block"]},
            "then": {"$ref": "#/definitions/block_use"},
            "else": {"$ref": "#/definitions/layer"},
        },
        "block_use": {
            "type": "object",
            "description": "a use of a block defined under `blocks:`; other keys set the block's params",
            "properties": {"block": {"type": "string", "description": "the block's name"},
                           "name": {"$ref": "#/definitions/name"}, "inputs": {"$ref": "#/definitions/inputs"},
                           "repeat": {"$ref": "#/definitions/repeat"},
                           "first": {"$ref": "#/definitions/first"},
                           "when": {"$ref": "#/definitions/when"}},
            "not": {"required": ["type"]},
            "required": ["block"],
        },
        "layer": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {
                "anyOf": [{"enum": names}, {"type": "string", "pattern": type_pattern(names)}, EXPR],
                "description": "the PyTorch class name (case-insensitive); `convcalc layers` lists them",
            }},
            "allOf": [
                {"if": {"properties": {"type": {"type": "string", "pattern": type_pattern(_type_names(cls))}},
                        "required": ["type"]},
                 "then": {"$ref": f"#/definitions/layer_{cls.type_name}"}}
                for cls in classes
            ],
        },
        "layers": {"type": "array", "items": {"$ref": "#/definitions/layer_item"}, "minItems": 1},
    }
    for cls in classes:
        definitions[f"layer_{cls.type_name}"] = _layer_definition(cls)
    top: dict[str, Schema] = {
        "name": {"type": "string", "description": "the network's name"},
        "description": {"type": "string"},
        "input": {"anyOf": _with_expr({"type": "array", "items": _items({"type": "integer", "minimum": 1}),
                                       "minItems": 2, "maxItems": 5}),
                  "description": "[N, C, *spatial] with 0 to 3 spatial dims, e.g. [1, 3, 224, 224]"},
        "params": {"type": "object",
                   "description": "spec variables and their defaults (set with --set NAME=VALUE)"},
        "blocks": {"type": "object", "description": "named, parameterised groups of layers",
                   "additionalProperties": {
                       "type": "object",
                       "properties": {
                           "params": {"type": "object",
                                      "description": "block parameters; null means required"},
                           "layers": {"$ref": "#/definitions/layers"},
                           "output": {"type": "string",
                                      "description": "the layer whose output the block returns"},
                           "description": {"type": "string"},
                       },
                       "required": ["layers"],
                       "additionalProperties": False,
                   }},
        "layers": {"$ref": "#/definitions/layers"},
        "expect": _expect_schema(_Analyzer._NET_EXPECT),
        "paper": {"description": "the publication the architecture follows"},
        "options": {"description": "notes on the architecture's options"},
    }
    missing = [key for key in TOP_KEYS if key not in top]
    if missing:  # a new top-level key must get a schema here; the test suite reports it too
        raise RuntimeError(f"the schema has no entry for top-level key(s) {missing}")
    return {
        "$schema": DRAFT,
        "title": "convcalc network spec",
        "description": "A CNN described layer by layer for convcalc (https://pypi.org/project/convcalc/). "
                       "Generated from convcalc's layer registry: do not edit by hand.",
        "type": "object",
        "properties": {key: top[key] for key in TOP_KEYS},
        "required": ["layers"],
        "additionalProperties": False,
        "definitions": definitions,
    }


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def modeline_for(spec_path: Path, schema_path: Path = SCHEMA_FILE) -> str:
    """The modeline for a spec file: the schema's path relative to the spec's folder."""
    import os

    relative = os.path.relpath(schema_path.resolve(), spec_path.resolve().parent)
    return MODELINE_PREFIX + Path(relative).as_posix()


__all__ = ["MODELINE_PREFIX", "SCHEMA_FILE", "build_schema", "modeline_for", "schema_text", "type_pattern"]
