"""The network as a graph for READMEs and PRs: Mermaid or Graphviz DOT, every edge labelled with its shape.

Nodes are the network input, every layer and the network output; an edge runs from each layer input
to the layer that reads it (so residual adds and concats show every branch) and carries the shape of
the tensor flowing along it. Layers of one block instance (or one repeat group, or one expanded
convenience layer) are drawn inside a box named after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from convcalc.analysis.core import Analysis
from convcalc.render.columns import shape_text
from convcalc.spec.expand import NET_INPUT

INPUT_ID = "input"
OUTPUT_ID = "output"


@dataclass
class Node:
    id: str
    label: tuple[str, ...]
    terminal: bool = False  # the network's input or output


@dataclass
class Edge:
    source: str
    target: str
    label: str


@dataclass
class Cluster:
    prefix: str
    nodes: list[Node] = field(default_factory=list)
    children: list["Cluster"] = field(default_factory=list)
    order: list[object] = field(default_factory=list)  # nodes and child clusters, as first seen


@dataclass
class Graph:
    name: str
    root: Cluster
    edges: list[Edge]


def _cluster_prefixes(analysis: Analysis) -> set[str]:
    """Names that stand for a group of layers: block instances, repeat groups, expanded conveniences."""
    prefixes = set(analysis.spec.aliases)
    prefixes.update(r.expanded_from for r in analysis.layers if r.expanded_from)
    return prefixes


def _ancestors(name: str, prefixes: set[str]) -> list[str]:
    parts = name.split(".")
    return [p for p in (".".join(parts[:i]) for i in range(1, len(parts))) if p in prefixes]


def _collapse(cluster: Cluster) -> Cluster:
    """Drop boxes that hold nothing but one other box (a block whose only content is a repeat group)."""
    cluster.children = [_collapse(c) for c in cluster.children]
    cluster.order = [_collapse(c) if isinstance(c, Cluster) else c for c in cluster.order]
    while cluster.prefix and not cluster.nodes and len(cluster.children) == 1:
        only = cluster.children[0]
        cluster.prefix, cluster.nodes = only.prefix, only.nodes
        cluster.children, cluster.order = only.children, only.order
    return cluster


def _relabel(cluster: Cluster) -> None:
    """Inside a box, a layer is shown by its name relative to the box (the box carries the prefix)."""
    for node in cluster.nodes:
        if cluster.prefix and node.label[0].startswith(cluster.prefix + "."):
            node.label = (node.label[0][len(cluster.prefix) + 1:], *node.label[1:])
    for child in cluster.children:
        _relabel(child)


def build_graph(analysis: Analysis, clusters: bool = True) -> Graph:
    prefixes = _cluster_prefixes(analysis) if clusters else set()
    root = Cluster("")
    index: dict[str, Cluster] = {"": root}
    ids: dict[str, str] = {NET_INPUT: INPUT_ID}
    input_node = Node(INPUT_ID, ("input", shape_text(analysis.input_shape)), terminal=True)
    root.nodes.append(input_node)
    root.order.append(input_node)
    edges: list[Edge] = []
    for i, report in enumerate(analysis.layers):
        node = Node(f"n{i}", (report.name, report.type))
        ids[report.name] = node.id
        parent = root
        for prefix in _ancestors(report.name, prefixes):
            if prefix not in index:
                index[prefix] = Cluster(prefix)
                parent.children.append(index[prefix])
                parent.order.append(index[prefix])
            parent = index[prefix]
        parent.nodes.append(node)
        parent.order.append(node)
        for source, shape in zip(report.inputs, report.input_shapes):
            edges.append(Edge(ids[source], node.id, shape_text(shape)))
    output_node = Node(OUTPUT_ID, ("output", shape_text(analysis.output_shape)), terminal=True)
    root.nodes.append(output_node)
    root.order.append(output_node)
    edges.append(Edge(ids[analysis.layers[-1].name], OUTPUT_ID, shape_text(analysis.output_shape)))
    root = _collapse(root)
    _relabel(root)
    return Graph(analysis.name, root, edges)


# -- Mermaid ---------------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("|", "#124;"))


def _walk(cluster: Cluster, emit_node: Callable[[Node, str], None],
          open_box: Callable[[Cluster, str, int], None], close_box: Callable[[str], None], depth: int = 1,
          counter: list[int] | None = None) -> None:
    counter = counter if counter is not None else [0]
    indent = "  " * depth
    for item in cluster.order:
        if isinstance(item, Cluster):
            counter[0] += 1
            open_box(item, indent, counter[0])
            _walk(item, emit_node, open_box, close_box, depth + 1, counter)
            close_box(indent)
        elif isinstance(item, Node):
            emit_node(item, indent)


def to_mermaid(analysis: Analysis, direction: str = "TB", clusters: bool = True) -> str:
    graph = build_graph(analysis, clusters)
    lines = [f"flowchart {direction}"]

    def emit_node(node: Node, indent: str) -> None:
        label = "<br/>".join(_mermaid_text(part) for part in node.label)
        lines.append(f'{indent}{node.id}(["{label}"])' if node.terminal else f'{indent}{node.id}["{label}"]')

    def open_box(cluster: Cluster, indent: str, number: int) -> None:
        lines.append(f'{indent}subgraph g{number}["{_mermaid_text(cluster.prefix)}"]')

    def close_box(indent: str) -> None:
        lines.append(f"{indent}end")

    _walk(graph.root, emit_node, open_box, close_box)
    for edge in graph.edges:
        lines.append(f'  {edge.source} -->|"{_mermaid_text(edge.label)}"| {edge.target}')
    return "\n".join(lines) + "\n"


# -- Graphviz DOT ----------------------------------------------------------------------------------


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(analysis: Analysis, direction: str = "TB", clusters: bool = True) -> str:
    graph = build_graph(analysis, clusters)
    lines = [
        f"digraph {_dot_string(graph.name)} {{",
        f"  graph [rankdir={direction}, fontname=\"Helvetica\", fontsize=11];",
        "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];",
        "  edge [fontname=\"Helvetica\", fontsize=9];",
    ]

    def emit_node(node: Node, indent: str) -> None:
        label = _dot_string("\n".join(node.label))
        extra = ", shape=oval" if node.terminal else ""
        lines.append(f"{indent}{node.id} [label={label}{extra}];")

    def open_box(cluster: Cluster, indent: str, number: int) -> None:
        lines.append(f"{indent}subgraph cluster_{number} {{")
        lines.append(f"{indent}  label={_dot_string(cluster.prefix)}; style=rounded; color=gray60;")

    def close_box(indent: str) -> None:
        lines.append(f"{indent}}}")

    _walk(graph.root, emit_node, open_box, close_box)
    for edge in graph.edges:
        lines.append(f"  {edge.source} -> {edge.target} [label={_dot_string(edge.label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[..., str]] = {"mermaid": to_mermaid, "dot": to_dot}
