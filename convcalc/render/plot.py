"""Pictures of an analysis: bars in the terminal table, and a matplotlib figure for `--plot FILE`.

Terminal bars are plain text (eighth-block characters), so they need neither rich nor matplotlib.
matplotlib is an optional extra (`pip install convcalc[plot]`), imported only when a figure is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from convcalc.analysis.core import Analysis, LayerReport
from convcalc.errors import ConvcalcError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

FIGURE_FORMATS = (".png", ".svg", ".pdf")

# -- terminal bars ---------------------------------------------------------------------------------

_EIGHTHS = " ▏▎▍▌▋▊▉"
MIN_BAR = 6
MAX_BAR = 14


def bar(fraction: float, width: int) -> str:
    """A left-aligned bar of `width` cells filled to `fraction` (0..1), to an eighth of a cell.

    A nonzero fraction always shows at least a sliver, so "small" and "none" stay distinguishable.
    """
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    if fraction > 0 and eighths == 0:
        eighths = 1
    full, rest = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[rest] if rest else "")
    return text.ljust(width)


def _input_extent(analysis: Analysis) -> list[int]:
    return list(analysis.input_shape[2:])


def rf_fraction(report: LayerReport, extent: Sequence[int]) -> float:
    """How much of the input one output of this layer sees: its field over the input size, at most 1."""
    sizes = report.receptive_field.size
    jumps = report.receptive_field.jump
    if not sizes or not extent:
        return 0.0
    parts = []
    for size, jump, length in zip(sizes, jumps, extent):
        parts.append(1.0 if (jump is None or size is None) else min(float(size) / length, 1.0))
    return max(parts)


def _scaled(values: list[float]) -> list[float]:
    top = max(values, default=0)
    return [v / top if top else 0.0 for v in values]


# The summary columns that get a bar beside them, and what the bar shows (a fraction per layer).
BAR_SERIES: dict[str, Callable[[Analysis], list[float]]] = {
    "params": lambda a: _scaled([float(r.params) for r in a.layers]),
    "macs": lambda a: _scaled([float(r.macs) for r in a.layers]),
    "rf_size": lambda a: [rf_fraction(r, _input_extent(a)) for r in a.layers],
}
BAR_STYLES = {"params": "magenta", "macs": "cyan", "rf_size": "yellow"}
BAR_HEADERS = {"params": "of max", "macs": "of max", "rf_size": "/input"}


def bar_width_for(spare: int, bars: int) -> int:
    """The width of each bar column that fits in `spare` terminal cells (0: no room, no bars)."""
    if bars <= 0:
        return 0
    width = spare // bars - 3  # each extra column costs its padding and a separator
    return 0 if width < MIN_BAR else min(width, MAX_BAR)


# -- the figure ------------------------------------------------------------------------------------


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConvcalcError(
            "--plot needs matplotlib: pip install 'convcalc[plot]' (or pip install matplotlib)") from None


def _tick_step(count: int, most: int = 48) -> int:
    return max(1, -(-count // most))


def _layer_axis(ax: "Axes", names: list[str]) -> None:
    step = _tick_step(len(names))
    ticks = list(range(0, len(names), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([names[i] for i in ticks], rotation=90, fontsize=7 if len(names) > 24 else 8)
    ax.set_xlim(-0.6, len(names) - 0.4)


def _human_axis(ax: "Axes") -> None:
    from matplotlib.ticker import FuncFormatter

    from convcalc.render.columns import humanize

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: humanize(int(v)) if v >= 1000 else f"{v:g}"))


def _spatial_layer(analysis: Analysis) -> LayerReport | None:
    """The deepest layer of a 2D net whose outputs form a grid (more than one position per spatial dim),
    each with a local receptive field: the layer whose field is worth drawing over the input. None for
    a generator's latent input (a few pixels are no picture)."""
    if len(analysis.input_shape) != 4 or min(analysis.input_shape[2:]) < 4:
        return None
    for report in reversed(analysis.layers):
        rf = report.receptive_field
        if (len(report.output_shape) == 4 and len(rf.size) == 2 and None not in rf.jump
                and None not in rf.size and min(report.output_shape[2:]) > 1):
            return report
    return None


def _draw_rf(ax: "Axes", analysis: Analysis, report: LayerReport) -> None:
    from matplotlib.patches import Rectangle

    height, width = analysis.input_shape[2], analysis.input_shape[3]
    out_h, out_w = report.output_shape[2], report.output_shape[3]
    rf = report.receptive_field
    (size_y, size_x), (jump_y, jump_x), (start_y, start_x) = rf.size, rf.jump, rf.start
    oy, ox = out_h // 2, out_w // 2
    # centre of output (oy, ox) and its field, in input pixel coordinates (pixel i spans i-0.5..i+0.5)
    cy, cx = start_y + oy * jump_y, start_x + ox * jump_x
    top, left = cy - (size_y - 1) / 2 - 0.5, cx - (size_x - 1) / 2 - 0.5
    ax.add_patch(Rectangle((-0.5, -0.5), width, height, facecolor="#e8e8e8", edgecolor="black", lw=1,
                           label=f"input {height}x{width}"))
    centres_y = [start_y + i * jump_y for i in range(out_h)]
    centres_x = [start_x + j * jump_x for j in range(out_w)]
    if out_h * out_w <= 4096:
        ax.scatter([x for _ in centres_y for x in centres_x], [y for y in centres_y for _ in centres_x],
                   s=4, color="#4c72b0", alpha=0.6, label=f"centres of the {out_h}x{out_w} outputs", zorder=3)
    else:  # too many to dot: the region they span
        ax.add_patch(Rectangle((centres_x[0], centres_y[0]), centres_x[-1] - centres_x[0],
                               centres_y[-1] - centres_y[0], fill=False, edgecolor="#4c72b0", ls="--", lw=1,
                               zorder=3, label=f"centres of the {out_h}x{out_w} outputs span this"))
    ax.add_patch(Rectangle((left, top), size_x, size_y, facecolor="#dd8452", alpha=0.35, edgecolor="#c44e00",
                           lw=1.5, zorder=2,
                           label=f"field of output ({oy}, {ox}): {_num(size_y)}x{_num(size_x)}"))
    ax.plot([cx], [cy], marker="+", color="#c44e00", markersize=10, zorder=4)
    margin = 0.05 * max(height, width)
    ax.set_xlim(min(-0.5, left) - margin, max(width - 0.5, left + size_x) + margin)
    ax.set_ylim(max(height - 0.5, top + size_y) + margin, min(-0.5, top) - margin)  # image rows grow down
    ax.set_aspect("equal")
    ax.set_xlabel("input x (pixels)")
    ax.set_ylabel("input y (pixels)")
    ax.set_title(f"Receptive field of output ({oy}, {ox}) of '{report.name}'\n"
                 f"({out_h}x{out_w} outputs, jump {_num(jump_y)}x{_num(jump_x)})", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), fontsize=8, frameon=False)


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def write_figure(analysis: Analysis, path: Path) -> None:
    """Params, MACs and receptive field per layer (and, for 2D nets, one output's field) to PNG/SVG/PDF."""
    suffix = path.suffix.lower()
    if suffix not in FIGURE_FORMATS:
        kinds = ", ".join(f[1:] for f in FIGURE_FORMATS)
        raise ConvcalcError(f"--plot writes {kinds} files, not '{path.name}'")
    _require_matplotlib()
    from matplotlib.figure import Figure

    names = [r.name for r in analysis.layers]
    spatial = _spatial_layer(analysis)
    count = len(names)
    series_width = min(max(7.0, 0.14 * count + 2.5), 18.0)  # beyond ~130 layers, bars get thinner
    picture_width = 5.5 if spatial is not None else 0.0
    fig = Figure(figsize=(series_width + picture_width, 10.5), layout="constrained")
    if spatial is not None:
        grid = fig.add_gridspec(3, 2, width_ratios=[series_width, picture_width])
        params_ax, macs_ax, rf_ax = (fig.add_subplot(grid[i, 0]) for i in range(3))
        _draw_rf(fig.add_subplot(grid[:, 1]), analysis, spatial)
    else:
        params_ax, macs_ax, rf_ax = fig.subplots(3, 1)
    x = list(range(count))
    totals = analysis.totals
    params_ax.bar(x, [r.params for r in analysis.layers], color="#8172b3", width=0.8)
    params_ax.set_ylabel("parameters")
    params_ax.set_title(f"Parameters per layer (total {_human(totals['params'])})", fontsize=10)
    macs_ax.bar(x, [r.macs for r in analysis.layers], color="#4c72b0", width=0.8)
    macs_ax.set_ylabel("MACs")
    macs_ax.set_title(f"MACs per layer (total {_human(totals['macs'])})", fontsize=10)
    for ax in (params_ax, macs_ax):
        _human_axis(ax)
        ax.grid(axis="y", alpha=0.3)
        _layer_axis(ax, names)
        ax.tick_params(axis="x", labelbottom=False)
    _draw_rf_growth(rf_ax, analysis, names)
    fig.suptitle(f"{analysis.name} — input {list(analysis.input_shape)}", fontsize=12)
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise ConvcalcError(f"cannot write {path}: {exc.strerror or exc}") from None


def _draw_rf_growth(ax: "Axes", analysis: Analysis, names: list[str]) -> None:
    """RF size per layer (one line per spatial dim, or one line when all dims agree) and the input size."""
    extent = _input_extent(analysis)
    x = list(range(len(names)))
    dims = len(extent)
    per_dim = [[_finite(r.receptive_field.size, d) for r in analysis.layers] for d in range(dims)]
    labels = {1: ["t"], 2: ["y", "x"], 3: ["d", "y", "x"]}.get(dims, [])
    if dims and all(series == per_dim[0] for series in per_dim):
        per_dim, labels = per_dim[:1], ["all dims" if dims > 1 else labels[0]]
    for series, label in zip(per_dim, labels):
        ax.step(x, series, where="mid", lw=1.8, label=f"RF size ({label})")
    if extent:
        ax.axhline(max(extent), color="gray", ls="--", lw=1, label=f"input size ({max(extent)})")
    ax.set_ylabel("receptive field (pixels)")
    ax.set_title("Receptive field growth", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    _layer_axis(ax, names)


def _finite(values: list[Any], dim: int) -> float:
    value = values[dim] if dim < len(values) else None
    return float("nan") if value is None else float(value)


def _human(value: int) -> str:
    from convcalc.render.columns import humanize

    return f"{humanize(value)} ({value:,})" if value >= 1000 else str(value)


__all__ = ["BAR_SERIES", "bar", "bar_width_for", "rf_fraction", "write_figure"]
