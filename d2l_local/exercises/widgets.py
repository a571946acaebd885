"""ipywidgets panels for the exercises.

Each function returns a panel to show as a cell's result. ``ipywidgets`` is imported
only when a panel is built, so the rest of the package works without it.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from matplotlib.figure import Figure

from .experiments import explore_run, plot_histories, runs_table
from .feature_maps import class_counts, class_names, class_number, pick_examples, plot_feature_maps
from ..loaders import Batches
from .recipes import INIT_SCHEMES
from .variants import ACTIVATIONS, POOLING

if TYPE_CHECKING:
    import ipywidgets


def lenet_explorer(train_iter: Batches, test_iter: Batches, runs: list[dict] | None = None,
                   device: torch.device | str | None = None) -> ipywidgets.VBox:
    """A panel to choose a LeNet variant and its training recipe, train it with a live plot, and compare runs.

    The left column sets the network (``lenet_variant``'s arguments), the right one the
    ``Recipe``. Train calls ``explore_run``; every run is appended to ``runs`` (a list), so
    the comparison survives between clicks and ``runs_table(runs)`` shows it afterwards.
    Returns an ``ipywidgets.VBox``: the controls, the live output, the comparison; where
    no kernel draws it, the comparison plot shows as a still picture.
    """
    import ipywidgets as widgets

    runs = [] if runs is None else runs
    style = {'description_width': '110px'}
    box = widgets.Layout(width='300px')
    arch = {
        'activation': widgets.Dropdown(options=list(ACTIVATIONS), value='relu', description='activation'),
        'pooling': widgets.Dropdown(options=list(POOLING), value='max', description='pooling'),
        'kernel_size': widgets.Dropdown(options=[3, 5, 7], value=5, description='kernel size'),
        'conv1': widgets.Dropdown(options=[4, 6, 8, 16, 32], value=6, description='conv 1 channels'),
        'conv2': widgets.Dropdown(options=[8, 16, 32, 64], value=16, description='conv 2 channels'),
        'conv3': widgets.Dropdown(options=[0, 16, 32, 64], value=0, description='conv 3 channels'),
        'dense': widgets.Dropdown(options=['none', '32', '96', '120-84', '256-128'], value='120-84',
                                  description='hidden dense'),
        'batch_norm': widgets.Checkbox(value=False, description='batch norm'),
    }
    recipe = {  # one control per Recipe field
        'lr': widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=0.5, step=0.25, description='learning rate'),
        'num_epochs': widgets.IntSlider(value=2, min=1, max=10, description='epochs'),
        'optimizer': widgets.Dropdown(options=['sgd', 'adamw'], value='sgd', description='optimizer'),
        'momentum': widgets.Dropdown(options=[0.0, 0.9], value=0.0, description='momentum (sgd)'),
        'weight_decay': widgets.Dropdown(options=[0.0, 1e-4, 5e-4, 1e-3], value=0.0, description='weight decay'),
        'schedule': widgets.Dropdown(options=['constant', 'onecycle'], value='constant', description='lr schedule'),
        'init': widgets.Dropdown(options=list(INIT_SCHEMES), value='xavier', description='init'),
        'augment': widgets.Checkbox(value=False, description='random flips'),
    }
    for widget in (*arch.values(), *recipe.values()):
        widget.style, widget.layout = style, box
    button = widgets.Button(description='Train', button_style='primary', icon='play')
    live, compare = widgets.Output(), widgets.Output()

    def settings() -> dict[str, Any]:
        channels = [arch['conv1'].value, arch['conv2'].value] + ([arch['conv3'].value] if arch['conv3'].value else [])
        dense = [] if arch['dense'].value == 'none' else [int(d) for d in arch['dense'].value.split('-')]
        s = {k: arch[k].value for k in ('activation', 'pooling', 'kernel_size', 'batch_norm')}
        s.update({k: w.value for k, w in recipe.items()})
        s['lr'] = float(f"{s['lr']:.3g}")  # the slider's 0.1778... shows and labels as 0.178
        return {**s, 'channels': channels, 'dense': dense, 'same_padding': len(channels) > 2}

    def train(_=None) -> None:
        button.disabled = True
        live.clear_output()
        try:
            with live:
                explore_run(settings(), train_iter, test_iter, runs, device=device)
        finally:
            button.disabled = False
        show_comparison()

    def show_comparison() -> None:
        finished = [r for r in runs if r['history'].test_acc]
        if finished:
            fig = plot_histories([r['history'] for r in finished], [r['label'] for r in finished])
            compare.outputs = ({'output_type': 'stream', 'name': 'stdout', 'text': runs_table(finished) + '\n'},
                               _figure_output(fig))

    button.on_click(train)
    show_comparison()
    controls = widgets.HBox([widgets.VBox(list(arch.values())), widgets.VBox([*recipe.values(), button])])
    return _with_still(widgets.VBox([controls, live, compare]), compare)


def _figure_output(fig: Figure) -> dict:
    """A figure as an Output widget's PNG output, so it shows the same in a kernel, a browser and a test."""
    buf = io.BytesIO()
    fig.savefig(buf, format='png', bbox_inches='tight')
    return {'output_type': 'display_data', 'metadata': {},
            'data': {'image/png': base64.b64encode(buf.getvalue()).decode('ascii'), 'text/plain': repr(fig)}}


def _with_still(panel: ipywidgets.VBox, shown: ipywidgets.Output) -> ipywidgets.VBox:
    """Add the picture ``shown`` holds when the panel is displayed, as a PNG beside the live view.

    A notebook front end with a kernel draws the panel; a viewer without one (the course
    website, GitHub) shows this still instead of nothing, as ipympl does for its figures.
    """
    live_view = panel._repr_mimebundle_

    def mimebundle(**kwargs: Any) -> dict | None:
        data = live_view(**kwargs)
        pngs = [o['data']['image/png'] for o in shown.outputs if 'image/png' in o.get('data', {})]
        if data is not None and pngs:
            data['image/png'] = pngs[-1]
        return data

    panel._repr_mimebundle_ = mimebundle
    return panel


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
    names = class_names(names)
    classes = [classes] if isinstance(classes, (str, int)) else list(classes)
    chosen = [names[class_number(cls, names)] for cls in classes]
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
    return _with_still(widgets.VBox([controls, out]), out)
