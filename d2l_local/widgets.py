"""ipywidgets panels for the exercises.

Each function returns a panel to show as a cell's result. ``ipywidgets`` is imported
only when a panel is built, so the rest of the package works without it.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence

import torch
from matplotlib.figure import Figure

from .feature_maps import Batches, _class_names, _class_number, class_counts, pick_examples, plot_feature_maps


def _figure_output(fig: Figure) -> dict:
    """A figure as an Output widget's PNG output, so it shows the same in a kernel, a browser and a test."""
    buf = io.BytesIO()
    fig.savefig(buf, format='png', bbox_inches='tight')
    return {'output_type': 'display_data', 'metadata': {},
            'data': {'image/png': base64.b64encode(buf.getvalue()).decode('ascii'), 'text/plain': repr(fig)}}


def feature_map_explorer(net: torch.nn.Sequential, data_iter: Batches,
                         classes: str | int | Sequence[str | int] = ('pullover', 'coat'),
                         names: Sequence[str] | None = None):
    """A panel to pick classes and example numbers and see their feature maps side by side (exercise 4).

    ``data_iter`` is any iterable of ``(X, y)`` batches that can be read more than once
    (a loader or a list, not a one-shot iterator). A choice without an example (a class
    the data lacks) shows the reason in place of the figure. Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as widgets

    if isinstance(data_iter, Iterator):
        raise TypeError('feature_map_explorer reads the data again on each change: pass a loader or a list '
                        f'of batches, not a one-shot iterator ({type(data_iter).__name__})')
    names = _class_names(names)
    classes = [classes] if isinstance(classes, (str, int)) else list(classes)
    chosen = [names[_class_number(cls, names)] for cls in classes]
    counts = dict(zip(names, class_counts(data_iter, len(names))))
    pickers = []
    for name in chosen:
        kind = widgets.Dropdown(options=names, value=name, description='class', layout=widgets.Layout(width='220px'))
        index = widgets.BoundedIntText(value=0, min=0, max=max(counts[name] - 1, 0), description='example #',
                                       layout=widgets.Layout(width='200px'))
        pickers.append((kind, index))
    out = widgets.Output()
    busy = False  # set while drawing: a clamped index (its bound moved) must not start a second draw

    def draw() -> None:
        for kind, index in pickers:
            index.max = max(counts[kind.value] - 1, 0)
        X, titles = pick_examples(data_iter, [k.value for k, _ in pickers], [i.value for _, i in pickers], names)
        out.outputs = (_figure_output(plot_feature_maps(net, X, titles)),)

    def redraw(change: object = None) -> None:
        nonlocal busy
        if busy:
            return
        busy = True
        try:
            draw()
        except ValueError as err:  # e.g. a class this data has no example of
            out.outputs = ({'output_type': 'stream', 'name': 'stderr', 'text': f'{err}\n'},)
        finally:
            busy = False

    for kind, index in pickers:
        kind.observe(redraw, names='value')
        index.observe(redraw, names='value')
    busy = True
    try:
        draw()  # the first draw raises what is wrong with the arguments
    finally:
        busy = False
    controls = widgets.HBox([widgets.VBox([kind, index]) for kind, index in pickers])
    return widgets.VBox([controls, out])
