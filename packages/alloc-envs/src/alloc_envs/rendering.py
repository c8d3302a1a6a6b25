"""RGB pictures of the environments (``render_mode="rgb_array"``), drawn with matplotlib.

A scenario describes what a frame shows as plain data, with numpy only: a :class:`Frame` is a
title and a few :class:`Panel` s (heat maps of cells, RGB pictures of cells, bar charts,
coloured points). :class:`FrameRenderer` draws frames into one matplotlib figure that it builds
on the first frame and reuses (Agg canvas: no display, no ``pyplot``, no global figure
registry), and returns each frame as an (H, W, 3) uint8 array whose size depends only on the
number of panels, so it is the same at every step of an environment.

matplotlib is an optional dependency (the extra ``alloc-envs[render]``). It is imported only
when a view is made with ``render_mode="rgb_array"``, which raises an ``ImportError`` naming the
extra when it is missing; the ``ansi`` mode and everything else need numpy only.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The render modes of every ``alloc`` view.
RENDER_MODES = ("ansi", "rgb_array")
#: Pixels of one panel (width, height) and of the title strip above the panels; all multiples of
#: 16 (what video encoders want), as is the whole frame.
PANEL_PX = (320, 304)
TITLE_PX = 48
MIN_WIDTH_PX = 480
DPI = 80
#: Smallest font size (pixels) of cell labels; smaller cells go without.
MIN_LABEL_PX = 6
#: Panel kinds (see :class:`Panel`).
KINDS = ("heatmap", "image", "bars", "points")

#: RGB colours (floats in [0, 1]) for categorical pictures: agent types, colours of RWARE.
PALETTE = np.array(
    [
        (0.122, 0.467, 0.706),  # blue
        (1.000, 0.498, 0.055),  # orange
        (0.173, 0.627, 0.173),  # green
        (0.839, 0.153, 0.157),  # red
        (0.580, 0.404, 0.741),  # purple
        (0.549, 0.337, 0.294),  # brown
        (0.890, 0.467, 0.761),  # pink
        (0.498, 0.498, 0.498),  # grey
        (0.737, 0.741, 0.133),  # olive
        (0.090, 0.745, 0.812),  # cyan
    ]
)
NAMED_RGB = {
    "red": (0.839, 0.153, 0.157),
    "blue": (0.122, 0.467, 0.706),
    "green": (0.173, 0.627, 0.173),
    "yellow": (0.929, 0.788, 0.110),
    "white": (1.0, 1.0, 1.0),
    "background": (0.94, 0.94, 0.94),
    "dark": (0.25, 0.25, 0.25),
}

_EXTRA_HINT = (
    "render_mode='rgb_array' draws with matplotlib, an optional dependency of alloc-envs: "
    "pip install 'alloc-envs[render]'"
)


def require_matplotlib() -> Any:
    """The ``matplotlib`` module, or an ``ImportError`` naming the extra ``alloc-envs[render]``."""
    try:
        import matplotlib
        import matplotlib.backends.backend_agg
        import matplotlib.figure
    except ImportError as exc:
        raise ImportError(_EXTRA_HINT) from exc
    return matplotlib


def check_render_mode(render_mode: str | None, metadata: dict[str, Any]) -> None:
    """``ValueError`` unless ``render_mode`` is ``None`` or one of the view's modes; for
    ``"rgb_array"`` also an ``ImportError`` naming the extra when matplotlib is missing."""
    if render_mode not in (None, *metadata["render_modes"]):
        raise ValueError(
            f"render_mode must be None or one of {metadata['render_modes']}, got {render_mode!r}"
        )
    if render_mode == "rgb_array":
        require_matplotlib()


@dataclass(frozen=True, eq=False)
class Panel:
    """One picture of a frame.

    Attributes:
        title: the panel's caption.
        values: ``"heatmap"``: (R, C) numbers, NaN where there is no cell; ``"image"``: (R, C, 3)
            RGB floats in [0, 1]; ``"bars"``: (B,) or (S, B) heights (S series side by side);
            ``"points"``: (P,) numbers, one per point of ``points``.
        kind: one of :data:`KINDS`.
        vmin, vmax: the colour scale (heatmap, points) or the value axis (bars); ``vmax=None``
            uses the frame's largest value (at least ``vmin`` + a small margin).
        cmap: matplotlib colour map of a heatmap or points.
        label: colour-bar label (heatmap, points) or value-axis label (bars).
        text: (R, C) strings written in the cells of a heatmap or image (``""``: none).
        hex_columns: draw a heatmap or image in the even-q hexagonal layout
            (:mod:`alloc_envs.core.hexgrid`): even columns half a cell lower.
        ticks: names of the B bars; series: legend names of the S series of bars.
        points: (P, 2) x, y positions of the points.
        sizes: marker area of the points (scalar or (P,)).
    """

    title: str
    values: np.ndarray
    kind: str = "heatmap"
    vmin: float = 0.0
    vmax: float | None = None
    cmap: str = "viridis"
    label: str = ""
    text: np.ndarray | None = None
    hex_columns: bool = False
    ticks: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    points: np.ndarray | None = None
    sizes: float | np.ndarray = 20.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Panel.kind must be one of {KINDS}, got {self.kind!r}")
        values = np.asarray(self.values, dtype=np.float64)
        ndim = {"heatmap": (2,), "image": (3,), "bars": (1, 2), "points": (1,)}[self.kind]
        if values.ndim not in ndim or (self.kind == "image" and values.shape[-1] != 3):
            dims = " or ".join(f"{d}-D" for d in ndim)
            raise ValueError(
                f"Panel.values of a {self.kind} must be {dims}"
                f"{' (R, C, 3)' if self.kind == 'image' else ''}, got shape {values.shape}"
            )
        if self.kind == "points" and (
            self.points is None or np.shape(self.points) != (values.shape[0], 2)
        ):
            raise ValueError("Panel.points must be (P, 2) positions for the P values")
        object.__setattr__(self, "values", values)

    def layout_key(self) -> tuple:
        """What fixes the panel's artists (a change of it rebuilds the figure)."""
        return (
            self.title,
            self.kind,
            self.values.shape,
            self.hex_columns,
            self.text is not None,
            self.ticks,
            self.series,
            self.cmap,
            None if self.points is None else np.asarray(self.points).tobytes(),
        )


@dataclass(frozen=True, eq=False)
class Frame:
    """A title strip and the panels below it, left to right."""

    title: str
    panels: tuple[Panel, ...]


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, cols) of the near-square grid that holds ``n`` items row-major."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def as_grid(values: np.ndarray, shape: tuple[int, int], fill: Any = np.nan) -> np.ndarray:
    """(N, ...) per-item values laid out row-major on a ``shape`` grid, ``fill`` after the last."""
    values = np.asarray(values)
    rows, cols = shape
    dtype = object if values.dtype == object else np.result_type(values, fill)
    out = np.full((rows * cols, *values.shape[1:]), fill, dtype=dtype)
    out[: values.shape[0]] = values
    return out.reshape(rows, cols, *values.shape[1:])


def number_text(values: np.ndarray, fmt: str = "{:.0f}") -> np.ndarray:
    """(R, C) strings of ``values`` in ``fmt`` (``""`` where NaN)."""
    flat = [("" if np.isnan(v) else fmt.format(v)) for v in np.asarray(values, float).ravel()]
    return np.asarray(flat, dtype=object).reshape(np.shape(values))


def _hex_raster(values: np.ndarray, fill: float) -> np.ndarray:
    """(R, C, ...) cells -> (2R + 1, C, ...) raster, two rows per cell, even columns one row
    lower (the even-q layout)."""
    rows, cols = values.shape[:2]
    out = np.full((2 * rows + 1, cols, *values.shape[2:]), fill, dtype=np.float64)
    for shift in (0, 1):
        c = slice(1 - shift, None, 2)  # shift 1: even columns
        for half in (0, 1):
            out[shift + half : shift + half + 2 * rows : 2, c] = values[:, c]
    return out


def _cell_centres(shape: tuple[int, int], hex_columns: bool) -> np.ndarray:
    """(R * C, 2) data coordinates (x, y) of the cells' centres, row-major."""
    rows, cols = shape
    r, c = np.divmod(np.arange(rows * cols), cols)
    y = r + (0.5 * (c % 2 == 0) if hex_columns else 0.0)
    return np.stack([c.astype(float), np.asarray(y, dtype=float)], axis=1)


def nice_ceil(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at least ``x`` (> 0): automatic scales change in
    steps, not at every frame."""
    exponent = 10.0 ** math.floor(math.log10(x))
    for mantissa in (1.0, 2.0, 2.5, 5.0, 10.0):
        if mantissa * exponent >= x * (1.0 - 1e-12):
            return mantissa * exponent
    return 10.0 * exponent


def _limits(panel: Panel, values: np.ndarray) -> tuple[float, float]:
    """(vmin, vmax) of a panel: its own, or ``vmax`` rounded up by :func:`nice_ceil`."""
    vmin = float(panel.vmin)
    if panel.vmax is not None:
        return vmin, max(float(panel.vmax), vmin + 1e-12)
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else vmin
    return vmin, vmin + (nice_ceil(top - vmin) if top > vmin else 1.0)


class _Glyphs:
    """Bitmaps of short strings (cell labels), rendered once per string and pixel size with
    matplotlib's FreeType font: stamping them into the frame costs far less than drawing as
    many matplotlib ``Text`` artists."""

    def __init__(self) -> None:
        from matplotlib import font_manager
        from matplotlib.ft2font import FT2Font

        self._font = FT2Font(font_manager.findfont("DejaVu Sans"))
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def bitmap(self, text: str, px: int) -> np.ndarray:
        """(h, w) float32 coverage in [0, 1] of ``text`` at a font size of ``px`` pixels."""
        key = (text, px)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._font.set_size(px, 72.0)  # points at 72 dpi = pixels
            self._font.set_text(text, 0.0)
            self._font.draw_glyphs_to_bitmap()
            found = np.asarray(self._font.get_image(), dtype=np.float32) / 255.0
            self._cache[key] = found
        return found

    def stamp(self, out: np.ndarray, text: str, px: int, x: float, y: float, dark: bool) -> None:
        """Write ``text`` centred at pixel (x, y) (row y from the top) of ``out`` (H, W, 3)
        uint8, in black (``dark``) or white."""
        alpha = self.bitmap(text, px)
        h, w = alpha.shape
        top, left = round(float(y) - h / 2.0), round(float(x) - w / 2.0)
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(top + h, out.shape[0]), min(left + w, out.shape[1])
        if r1 <= r0 or c1 <= c0:
            return
        a = alpha[r0 - top : r1 - top, c0 - left : c1 - left, None]
        region = out[r0:r1, c0:c1].astype(np.float32)
        ink = 0.0 if dark else 255.0
        out[r0:r1, c0:c1] = (region * (1.0 - a) + ink * a + 0.5).astype(np.uint8)


class _PanelArtists(ABC):
    """The artists of one panel: ``update`` sets a frame's values on the dynamic artists and
    returns the panel's static state (scales), ``locate`` places the cell labels after a full
    draw, ``stamp`` writes them."""

    dynamic: list[Any]

    @abstractmethod
    def update(self, panel: Panel) -> tuple:
        """Set ``panel``'s values on the dynamic artists; the panel's static state."""

    def locate(self) -> None:  # noqa: B027 (optional hook: panels without cell labels)
        """Place the cell labels after a full draw (panels with labels)."""

    def stamp(self, out: np.ndarray, glyphs: _Glyphs) -> None:  # noqa: B027 (optional hook)
        """Write the cell labels into ``out`` (panels with labels)."""


class _CellArtists(_PanelArtists):
    def __init__(self, fig: Any, ax: Any, cax: Any, panel: Panel) -> None:
        import matplotlib

        self.ax = ax
        self.shape = panel.values.shape[:2]
        rows, cols = self.shape
        self.image = panel.kind == "image"
        self.fill = 1.0 if self.image else np.nan
        self.hex = panel.hex_columns
        extent = (-0.5, cols - 0.5, (rows if self.hex else rows - 0.5), -0.5)
        kwargs: dict[str, Any] = {"interpolation": "nearest", "extent": extent, "animated": True}
        self.cmap = None
        if not self.image:
            self.cmap = matplotlib.colormaps[panel.cmap].with_extremes(bad="white")
            kwargs["cmap"] = self.cmap
        self.im = ax.imshow(self._raster(panel.values), **kwargs)
        if cax is not None:
            bar = fig.colorbar(self.im, cax=cax)
            bar.ax.tick_params(labelsize=8)
            if panel.label:
                bar.set_label(panel.label, fontsize=8)
        self.dynamic = [self.im]
        self.centres = _cell_centres(self.shape, self.hex)
        self.pixels = np.zeros((rows * cols, 2))
        self.px = 8
        self.labels: list[tuple[str, bool]] = []

    def _raster(self, values: np.ndarray) -> np.ndarray:
        return _hex_raster(values, self.fill) if self.hex else values

    def update(self, panel: Panel) -> tuple:
        self.im.set_data(self._raster(panel.values))
        limits: tuple = ()
        if not self.image:
            limits = _limits(panel, panel.values)
            self.im.set_clim(*limits)
        if panel.text is not None:
            if self.image:
                rgb = panel.values.reshape(-1, 3)
            else:
                rgb = np.asarray(self.cmap(self.im.norm(panel.values.reshape(-1))))[:, :3]
            light = rgb @ np.array([0.299, 0.587, 0.114]) > 0.5
            text = np.asarray(panel.text, dtype=object).reshape(-1)
            self.labels = [(str(t), bool(d)) for t, d in zip(text, light, strict=True)]
        return limits

    def locate(self) -> None:
        fig_height = self.ax.figure.bbox.height
        xy = self.ax.transData.transform(self.centres)
        self.pixels = np.stack([xy[:, 0], fig_height - xy[:, 1]], axis=1)
        one = self.ax.transData.transform([(0.0, 0.0), (1.0, 1.0)])
        cell = float(min(abs(one[1, 0] - one[0, 0]), abs(one[1, 1] - one[0, 1])))
        longest = max((len(t) for t, _ in self.labels), default=1)
        self.px = int(min(12, 0.5 * cell, 1.5 * cell / max(longest, 1)))

    def stamp(self, out: np.ndarray, glyphs: _Glyphs) -> None:
        if self.px < MIN_LABEL_PX:  # too small to read: the colours tell
            return
        for (text, dark), (x, y) in zip(self.labels, self.pixels, strict=False):
            if text:
                glyphs.stamp(out, text, self.px, x, y, dark)


class _PointArtists(_PanelArtists):
    def __init__(self, fig: Any, ax: Any, cax: Any, panel: Panel) -> None:
        import matplotlib

        xy = np.asarray(panel.points, dtype=np.float64)
        ax.set_aspect("equal")
        cmap = matplotlib.colormaps[panel.cmap]
        self.points = ax.scatter(
            xy[:, 0], xy[:, 1], c=panel.values, s=panel.sizes, cmap=cmap, linewidths=0,
            animated=True,
        )  # fmt: skip
        pad = 0.03 * max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-9)
        ax.set_xlim(xy[:, 0].min() - pad, xy[:, 0].max() + pad)
        ax.set_ylim(xy[:, 1].min() - pad, xy[:, 1].max() + pad)
        bar = fig.colorbar(self.points, cax=cax)
        bar.ax.tick_params(labelsize=8)
        if panel.label:
            bar.set_label(panel.label, fontsize=8)
        self.dynamic = [self.points]

    def update(self, panel: Panel) -> tuple:
        limits = _limits(panel, panel.values)
        self.points.set_array(panel.values)
        self.points.set_clim(*limits)
        return limits


class _BarArtists(_PanelArtists):
    def __init__(self, fig: Any, ax: Any, cax: Any, panel: Panel) -> None:
        values = np.atleast_2d(panel.values)
        n_series, n_bars = values.shape
        width = 0.8 / n_series
        x = np.arange(n_bars)
        self.ax = ax
        self.containers = [
            ax.bar(
                x - 0.4 + width * (s + 0.5),
                values[s],
                width=width,
                color=PALETTE[s % len(PALETTE)],
                label=panel.series[s] if s < len(panel.series) else None,
                animated=True,
            )
            for s in range(n_series)
        ]
        self.dynamic = [rect for c in self.containers for rect in c.patches]
        ax.set_xticks(x)
        ax.set_xticklabels(
            panel.ticks or [str(i) for i in range(n_bars)],
            fontsize=8,
            rotation=0 if n_bars <= 6 else 90,
        )
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xlim(-0.6, n_bars - 0.4)
        if panel.label:
            ax.set_ylabel(panel.label, fontsize=8)
        if panel.series:
            ax.legend(fontsize=7, loc="upper right")

    def update(self, panel: Panel) -> tuple:
        heights = np.atleast_2d(panel.values)
        for container, row in zip(self.containers, heights, strict=True):
            for rect, value in zip(container.patches, row, strict=True):
                rect.set_height(float(value) if np.isfinite(value) else 0.0)
        finite = heights[np.isfinite(heights)]
        low = min(float(panel.vmin), float(finite.min()) if finite.size else 0.0)
        _, high = _limits(panel, heights)
        limits = (low, high * (1.25 if panel.series else 1.0))  # room for the legend
        self.ax.set_ylim(*limits)
        return limits


class FrameRenderer:
    """Draws :class:`Frame` s into one reused matplotlib figure (module doc).

    The static parts (axes, colour bars, ticks) are drawn again only when a scale changes
    (automatic scales move in :func:`nice_ceil` steps); otherwise a frame restores them from a
    saved background and draws the cells, points, bars and the title over it, then stamps the
    cell labels (:class:`_Glyphs`): a few milliseconds a frame.

    :meth:`draw` returns an (H, W, 3) uint8 array; :meth:`close` releases the figure (a later
    :meth:`draw` builds a new one). Copies and pickles carry no figure.
    """

    def __init__(self) -> None:
        self._figure: Any = None
        self._layout: tuple | None = None
        self._panels: list[_PanelArtists] = []
        self._title: Any = None
        self._static: tuple | None = None
        self._background: Any = None
        self._glyphs: _Glyphs | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()

    def close(self) -> None:
        """Release the figure."""
        if self._figure is not None:
            self._figure.clear()
        self._figure, self._layout, self._panels, self._title = None, None, [], None
        self._static, self._background = None, None

    def draw(self, frame: Frame) -> np.ndarray:
        """The (H, W, 3) uint8 picture of ``frame``."""
        layout = tuple(p.layout_key() for p in frame.panels)
        if self._figure is None or layout != self._layout:
            self._build(frame)
            self._layout = layout
        fig = self._figure
        canvas = fig.canvas
        self._title.set_text(frame.title)
        static = tuple(a.update(p) for a, p in zip(self._panels, frame.panels, strict=True))
        if static != self._static:
            canvas.draw()  # everything but the animated (per-frame) artists
            self._background = canvas.copy_from_bbox(fig.bbox)
            self._static = static
            for artists in self._panels:
                artists.locate()
        else:
            canvas.restore_region(self._background)
        fig.draw_artist(self._title)
        for artists in self._panels:
            for artist in artists.dynamic:
                fig.draw_artist(artist)
        out = np.asarray(canvas.buffer_rgba())[..., :3].copy()
        for artists in self._panels:
            artists.stamp(out, self._glyphs)
        return out

    # ------------------------------------------------------------------ building
    def _build(self, frame: Frame) -> None:
        require_matplotlib()
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.close()
        if self._glyphs is None:
            self._glyphs = _Glyphs()
        n = max(1, len(frame.panels))
        pw, ph = PANEL_PX
        width = max(MIN_WIDTH_PX, pw * n)
        height = ph + TITLE_PX
        fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
        FigureCanvasAgg(fig)
        self._figure = fig
        self._title = fig.text(
            0.5, 1.0 - 0.5 * TITLE_PX / height, "", ha="center", va="center", fontsize=12
        )
        self._title.set_animated(True)
        x0 = (width - pw * n) / 2.0
        for i, panel in enumerate(frame.panels):
            # the panel's box in figure fractions: left, bottom, width, height
            box = ((x0 + i * pw) / width, 0.0, pw / width, ph / height)
            self._panels.append(self._build_panel(fig, box, panel))

    @staticmethod
    def _build_panel(
        fig: Any, box: tuple[float, float, float, float], panel: Panel
    ) -> _PanelArtists:
        left, bottom, w, h = box
        bars = panel.kind == "bars"
        bar_room = 0.0 if bars else 0.16  # colour bar on the right
        ax_box = (
            left + w * (0.17 if bars else 0.04),
            bottom + h * (0.16 if bars else 0.04),
            w * ((0.79 if bars else 0.92) - bar_room),
            h * (0.72 if bars else 0.84),
        )
        ax = fig.add_axes(ax_box)
        ax.set_title(panel.title, fontsize=10)
        if bars:
            return _BarArtists(fig, ax, None, panel)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        cax = None
        if panel.kind in ("heatmap", "points"):
            cax = fig.add_axes(
                (left + w * (0.96 - bar_room + 0.02), ax_box[1] + h * 0.08, w * 0.035, h * 0.68)
            )
        if panel.kind == "points":
            return _PointArtists(fig, ax, cax, panel)
        return _CellArtists(fig, ax, cax, panel)


class ViewRenderer:
    """What a view does with its ``render_mode`` (checked here): ``"ansi"`` returns the
    scenario's text, ``"rgb_array"`` draws the scenario's :class:`Frame` (after ``reset()``),
    ``None`` returns ``None``."""

    def __init__(self, render_mode: str | None, metadata: dict[str, Any]) -> None:
        check_render_mode(render_mode, metadata)
        self.render_mode = render_mode
        self._frames = FrameRenderer() if render_mode == "rgb_array" else None

    def render(
        self, started: bool, ansi: Callable[[], str], frame: Callable[[], Frame]
    ) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            return ansi()
        if self._frames is None:
            return None
        if not started:
            raise RuntimeError("no episode to draw yet: call reset() before render()")
        return self._frames.draw(frame())

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()


def bars_panel(
    title: str,
    values: Sequence[float] | np.ndarray,
    ticks: Sequence[str] = (),
    series: Sequence[str] = (),
    vmin: float = 0.0,
    vmax: float | None = None,
    label: str = "",
) -> Panel:
    """A bar chart (shorthand)."""
    return Panel(
        title,
        np.asarray(values, dtype=np.float64),
        kind="bars",
        vmin=vmin,
        vmax=vmax,
        ticks=tuple(ticks),
        series=tuple(series),
        label=label,
    )
