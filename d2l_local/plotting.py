"""Plots: a live training plot that redraws in place, and an image grid."""
from __future__ import annotations

import io
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from numbers import Real

from matplotlib.figure import Figure


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Notebook, VS Code, Colab), False in a script."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def show_figures_inline() -> None:
    """In a Jupyter kernel that uses the inline backend, show each cell's figures under that cell.

    This is what ``%matplotlib inline`` does. Recent matplotlib and IPython do it by
    themselves; with matplotlib 3.7 and IPython 9 a figure drawn by ``show_images`` appeared
    under the next cell instead. Another backend chosen on purpose (``%matplotlib widget``)
    is left alone.
    """
    if not in_notebook():
        return
    import matplotlib
    from IPython import get_ipython

    if matplotlib.get_backend() in (INLINE_BACKEND, "inline"):
        get_ipython().run_line_magic("matplotlib", "inline")


_HIDDEN = False  # set by hidden_animators(): Animators created meanwhile draw nothing


@contextmanager
def hidden_animators() -> Iterator[None]:
    """Inside this block, new Animators record their points but never draw or print.

    For code that calls ``train_ch6`` many times (a sweep) and shows its own summary plot.
    """
    global _HIDDEN
    before, _HIDDEN = _HIDDEN, True
    try:
        yield
    finally:
        _HIDDEN = before


def _as_list(v) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


class Animator:
    """Plot data points as they arrive, redrawing one figure in place.

    In a notebook the figure is one PNG output that is replaced on each redraw (a
    display update, so no stack of images and no flicker). In a script it prints a
    compact line of the latest values instead; ``save(path)`` writes the figure to a
    file either way. Redraws happen at most every ``min_interval`` seconds, and always
    when a point reaches the right end of ``xlim``, so plotting stays cheap.
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"),
                 nrows=1, ncols=1, figsize=(3.5, 2.5), *, min_interval: float = 1.0,
                 notebook: bool | None = None) -> None:
        self.fig = Figure(figsize=figsize, layout="tight")
        axes = self.fig.subplots(nrows, ncols, squeeze=False).ravel()
        self.axes = list(axes)
        self.xlabel, self.ylabel, self.legend = xlabel, ylabel, list(legend or [])
        self.xlim, self.ylim, self.xscale, self.yscale = xlim, ylim, xscale, yscale
        self.fmts = fmts
        self.X: list[list[float]] | None = None
        self.Y: list[list[float]] | None = None
        self.min_interval = min_interval
        self.notebook = in_notebook() if notebook is None else notebook
        self.hidden = _HIDDEN
        self._handle = None
        self._last_draw = float("-inf")
        self._dirty = False
        self.draw_seconds = 0.0  # time spent drawing, to check plotting stays cheap

    def add(self, x, y) -> None:
        """Add one point per series: ``y`` is a number or a list (``None`` skips a series)."""
        y = _as_list(y)
        n = len(y)
        x = _as_list(x)
        if len(x) == 1:
            x = x * n
        elif len(x) != n:
            raise ValueError(f"Animator.add got {len(x)} x values for {n} y values; pass one x or one per y")
        if self.X is None:
            if self.legend and len(self.legend) != n:
                raise ValueError(f"Animator has {len(self.legend)} legend entries but add() got {n} y values")
            self.X, self.Y = [[] for _ in range(n)], [[] for _ in range(n)]
        elif n != len(self.Y):
            raise ValueError(f"Animator.add got {n} y values but earlier calls had {len(self.Y)} series")
        for i, (a, b) in enumerate(zip(x, y)):
            if a is not None and b is not None:
                if not isinstance(a, Real) or not isinstance(b, Real):
                    raise TypeError(f"Animator.add needs numbers, got x={a!r}, y={b!r}")
                self.X[i].append(float(a))
                self.Y[i].append(float(b))
        self._dirty = True
        at_end = self.xlim is not None and max(float(a) for a in x if a is not None) >= self.xlim[1]
        if at_end or time.perf_counter() - self._last_draw >= self.min_interval:
            self.show()

    def _render(self) -> None:
        ax = self.axes[0]
        ax.cla()
        for xs, ys, fmt in zip(self.X or [], self.Y or [], self.fmts):
            (line,) = ax.plot(xs, ys, fmt)
            if len(xs) == 1 and line.get_marker() in ("None", ""):
                line.set_marker("o")  # a lone point on a line without markers would not show
        ax.set_xlabel(self.xlabel or "")
        ax.set_ylabel(self.ylabel or "")
        ax.set_xscale(self.xscale)
        ax.set_yscale(self.yscale)
        if self.xlim:
            low, high = self.xlim
            ax.set_xlim((high - 1, high) if low == high else (low, high))  # xlim=[1, 1]: show epoch 1 from its start
        if self.ylim:
            ax.set_ylim(self.ylim)
        if self.legend:
            ax.legend(self.legend)
        ax.grid(True)

    def _text_line(self) -> str:
        x = max((xs[-1] for xs in self.X or [] if xs), default=0.0)
        parts = [f"{name} {ys[-1]:.3f}" for name, ys in zip(self.legend or [f"y{i}" for i in range(len(self.Y or []))],
                                                          self.Y or []) if ys]
        return f"{self.xlabel or 'x'} {x:.2f}: " + ", ".join(parts)

    def show(self) -> None:
        """Redraw now (in a notebook: update the plot; in a script: print the latest values)."""
        if self.hidden:
            return
        start = time.perf_counter()
        if self.notebook:
            from IPython.display import Image, display
            self._render()
            buf = io.BytesIO()
            self.fig.savefig(buf, format="png", dpi=100)
            image = Image(data=buf.getvalue(), format="png")
            if self._handle is None:
                self._handle = display(image, display_id=True)
            else:
                self._handle.update(image)
        else:
            print(self._text_line(), flush=True)
        self._dirty = False
        self._last_draw = time.perf_counter()
        self.draw_seconds += self._last_draw - start

    def flush(self) -> None:
        """Draw the latest points if they have not been drawn yet."""
        if self._dirty:
            self.show()

    def save(self, path) -> None:
        """Write the current figure to ``path`` (format from the file extension)."""
        self._render()
        self.fig.savefig(path, dpi=100)


def new_figure(figsize: tuple[float, float]):
    """A figure that a notebook shows once, as a PNG, when a cell returns it."""
    import matplotlib.pyplot as plt  # in Jupyter this switches on the inline display of figures

    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)  # no automatic second copy at the end of the cell
    return fig


def show_images(imgs, num_rows: int, num_cols: int, titles: Sequence[str] | None = None, scale: float = 1.5):
    """Show a grid of images (tensors or arrays) with optional titles; returns the axes."""
    import matplotlib.pyplot as plt
    import torch

    figsize = (num_cols * scale, num_rows * scale)
    _, axes = plt.subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        if torch.is_tensor(img):
            img = img.detach().cpu().numpy()
        ax.imshow(img.squeeze(), cmap="gray" if img.squeeze().ndim == 2 else None)
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles is not None and i < len(titles):
            ax.set_title(titles[i])
    return axes
