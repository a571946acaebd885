"""The Animator: text in scripts, one in-place image in notebooks, cheap redraws, clear errors."""
from __future__ import annotations

import io
import subprocess
import sys
import warnings

import IPython.display
import torch
import pytest

import d2l_local as d2l


def test_script_prints_compact_progress_and_no_figure_lines(tmp_path):
    script = f"""
import d2l_local as d2l
a = d2l.Animator(xlabel='epoch', xlim=[1, 3], legend=['train loss', 'test acc'], min_interval=0)
for epoch in range(3):
    a.add(epoch + 1, [1.0 / (epoch + 1), 0.5 + epoch / 10])
a.save(r'{tmp_path / "final.png"}')
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert "<Figure" not in out
    assert out.splitlines() == ["epoch 1.00: train loss 1.000, test acc 0.500",
                                "epoch 2.00: train loss 0.500, test acc 0.600",
                                "epoch 3.00: train loss 0.333, test acc 0.700"]
    assert (tmp_path / "final.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, obj):
        self.updates.append(obj)


def test_notebook_shows_one_image_and_updates_it_in_place(monkeypatch):
    shown = []

    def fake_display(obj, display_id=False):
        shown.append(obj)
        return FakeHandle()

    monkeypatch.setattr(IPython.display, "display", fake_display)
    a = d2l.Animator(xlabel="epoch", xlim=[1, 100], legend=["loss"], notebook=True, min_interval=0)
    for i in range(5):
        a.add(i + 1, i)
    assert len(shown) == 1 and isinstance(shown[0], IPython.display.Image)
    assert len(a._handle.updates) == 4
    assert a._handle.updates[-1].data[:4] == b"\x89PNG"


def test_each_update_shows_the_points_added_so_far(monkeypatch):
    """Every redraw's PNG is the figure of exactly the points added until then (compared with a fresh drawing)."""
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=False: shown.append(obj) or FakeHandle())
    points = [(1, (2.3, 0.1)), (2, (1.2, 0.5)), (3, (0.7, 0.7)), (4, (0.6, None))]
    live = d2l.Animator(xlabel="epoch", xlim=[1, 4], legend=["loss", "acc"], notebook=True, min_interval=0)
    for x, y in points:
        live.add(x, y)
    images = [shown[0].data] + [update.data for update in live._handle.updates]
    assert len(images) == len(points)
    for k, image in enumerate(images):
        fresh = d2l.Animator(xlabel="epoch", xlim=[1, 4], legend=["loss", "acc"], notebook=False)  # prints, no image
        for x, y in points[:k + 1]:
            fresh.add(x, y)
        buffer = io.BytesIO()
        fresh._render()
        fresh.fig.savefig(buffer, format="png", dpi=100)
        assert image == buffer.getvalue(), f"update {k} does not show the first {k + 1} points"


def test_the_live_plot_has_the_same_pixels_whatever_savefig_dpi_is_set_to(monkeypatch):
    """100 dots per inch, so the plot keeps its size on screen when a user's matplotlibrc sets savefig.dpi."""
    import struct

    import IPython.display
    import matplotlib

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=False: shown.append(obj))
    with matplotlib.rc_context({"savefig.dpi": 50}):
        a = d2l.Animator(xlabel="epoch", xlim=[1, 10], legend=["loss"], figsize=(3.5, 2.5), notebook=True,
                         min_interval=0)
        a.add(1, 0.5)
    width, height = struct.unpack(">II", shown[0].data[16:24])  # the PNG's IHDR chunk
    assert (width, height) == (350, 250)


def test_redraws_are_throttled_but_the_last_point_is_drawn(monkeypatch):
    draws, show = [], d2l.Animator.show

    def counting_show(self):
        draws.append(len(self.X[0]))
        show(self)

    monkeypatch.setattr(d2l.Animator, "show", counting_show)
    a = d2l.Animator(xlim=[0, 50], notebook=False, min_interval=3600)
    for i in range(51):
        a.add(i, float(i))
    assert draws == [1, 51]  # the first point, then the point at the end of xlim


def test_none_values_skip_a_series():
    a = d2l.Animator(legend=["a", "b"], notebook=False, min_interval=3600)
    a.add(0.5, [1.0, None])
    a.add(1.0, [None, 2.0])
    assert a.X == [[0.5], [1.0]] and a.Y == [[1.0], [2.0]]


def test_mismatched_x_and_y_lengths():
    a = d2l.Animator(notebook=False)
    with pytest.raises(ValueError, match="got 2 x values for 3 y values"):
        a.add([1, 2], [1, 2, 3])


def test_changing_number_of_series():
    a = d2l.Animator(notebook=False, min_interval=3600)
    a.add(1, [1, 2])
    with pytest.raises(ValueError, match="got 3 y values but earlier calls had 2 series"):
        a.add(2, [1, 2, 3])


def test_legend_must_match_series():
    a = d2l.Animator(legend=["train loss", "train acc", "test acc"], notebook=False)
    with pytest.raises(ValueError, match="3 legend entries but add\\(\\) got 2 y values"):
        a.add(1, [0.5, 0.6])


def test_non_numbers_are_refused():
    a = d2l.Animator(notebook=False)
    with pytest.raises(TypeError, match="needs numbers"):
        a.add(1, "0.5")


def test_one_epoch_xlim_shows_the_whole_epoch():
    """xlim=[1, 1] (train_ch6 with num_epochs=1) plots epoch 1 from its start, not a sliver around x=1."""
    a = d2l.Animator(xlim=[1, 1], notebook=False, min_interval=3600)
    a.add(0.2, 0.5)
    a._render()
    assert a.axes[0].get_xlim() == (0.0, 1.0)


def test_a_lone_point_gets_a_marker():
    """A series with one point (test acc after a one-epoch run) is drawn as a marker, not an invisible line."""
    a = d2l.Animator(legend=["loss", "test acc"], notebook=False, min_interval=3600)
    a.add(0.5, [1.0, None])
    a.add(1.0, [0.8, 0.7])
    a._render()
    loss_line, acc_line = a.axes[0].get_lines()
    assert loss_line.get_marker() in ("None", "", None) and acc_line.get_marker() == "o"


def test_a_lone_point_keeps_its_own_marker_without_a_warning():
    a = d2l.Animator(fmts=("C0s-",), notebook=False, min_interval=3600)
    a.add(1.0, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a._render()
    assert a.axes[0].get_lines()[0].get_marker() == "s"


# --- what is drawn, checked on the figure itself ------------------------------------------------------

def test_render_draws_each_series_with_its_labels_scales_and_limits():
    a = d2l.Animator(xlabel="epoch", ylabel="loss", legend=["train", "test"], xlim=[1, 4], ylim=[0.1, 10],
                     yscale="log", fmts=("b-", "r--"), notebook=False, min_interval=3600)
    a.add([1, 2], [0.5, 0.4])
    a.add([2, 3], [0.3, None])
    a._render()
    ax = a.axes[0]
    (train, test) = ax.get_lines()
    assert (list(train.get_xdata()), list(train.get_ydata())) == ([1.0, 2.0], [0.5, 0.3])
    assert (list(test.get_xdata()), list(test.get_ydata())) == ([2.0], [0.4])
    assert (train.get_color(), train.get_linestyle(), test.get_color(), test.get_linestyle()) == ("b", "-", "r", "--")
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_xscale(), ax.get_yscale()) == ("epoch", "loss", "linear", "log")
    assert ax.get_xlim() == (1.0, 4.0) and ax.get_ylim() == pytest.approx((0.1, 10))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "test"]
    assert all(line.get_visible() for line in ax.get_xgridlines())
    a._render()  # drawn again from scratch, not on top
    assert len(ax.get_lines()) == 2


def test_a_grid_of_axes_and_no_labels():
    a = d2l.Animator(nrows=2, ncols=3, figsize=(6, 4), notebook=False)
    assert len(a.axes) == 6 and tuple(a.fig.get_size_inches()) == (6, 4)
    a.add(1, 2.0)
    a._render()
    assert (a.axes[0].get_xlabel(), a.axes[0].get_ylabel(), a.axes[0].get_legend()) == ("", "", None)


def test_the_text_line_without_a_legend_names_the_series(capsys):
    a = d2l.Animator(notebook=False, min_interval=0)
    a.add(0.5, [1.25, None])
    a.add(1.5, [None, 2.0])
    assert capsys.readouterr().out.splitlines() == ["x 0.50: y0 1.250", "x 1.50: y0 1.250, y1 2.000"]


def test_flush_draws_only_what_was_not_drawn(capsys):
    a = d2l.Animator(notebook=False, min_interval=3600)
    a.add(1, 1.0)  # the first point is drawn at once
    a.flush()
    assert capsys.readouterr().out == "x 1.00: y0 1.000\n"
    a.add(2, 2.0)  # too soon to draw
    assert capsys.readouterr().out == ""
    a.flush()
    a.flush()
    assert capsys.readouterr().out == "x 2.00: y0 2.000\n"
    assert a.draw_seconds > 0


def test_hidden_animators_draw_nothing_and_the_switch_is_restored(capsys):
    with d2l.hidden_animators():
        quiet = d2l.Animator(notebook=False, min_interval=0)
        with pytest.raises(RuntimeError), d2l.hidden_animators():
            raise RuntimeError
        also_quiet = d2l.Animator(notebook=False, min_interval=0)
    loud = d2l.Animator(notebook=False, min_interval=0)
    for a in (quiet, also_quiet, loud):
        a.add(1, 0.5)
        a.flush()
    assert (quiet.hidden, also_quiet.hidden, loud.hidden) == (True, True, False)
    assert quiet.X == [[1.0]] and capsys.readouterr().out == "x 1.00: y0 0.500\n"


def test_not_a_notebook_in_a_test_process(monkeypatch):
    from d2l_local import plotting

    assert plotting.in_notebook() is False
    assert d2l.Animator().notebook is False
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Shell", (), {"kernel": object()})())
    assert plotting.in_notebook() is True and d2l.Animator().notebook is True
    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Terminal", (), {})())
    assert plotting.in_notebook() is False


def test_an_animator_has_one_axes_unless_asked_for_more():
    assert len(d2l.Animator(notebook=False).axes) == 1
    assert len(d2l.Animator(nrows=2, ncols=3, notebook=False).axes) == 6


def test_new_figure_has_the_size_and_is_not_left_open():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = d2l.new_figure((4, 2))
    assert tuple(fig.get_size_inches()) == (4, 2) and fig.get_layout_engine() is not None
    assert plt.get_fignums() == before


def test_show_images_puts_each_image_and_title_on_its_own_axes():
    import matplotlib.pyplot as plt

    images = [torch.rand(1, 4, 4), torch.rand(4, 4).numpy(), torch.rand(4, 4, 3)]
    axes = d2l.show_images(images, 2, 2, titles=["a", "b"], scale=2.0)
    try:
        assert len(axes) == 4 and tuple(axes[0].figure.get_size_inches()) == (4.0, 4.0)
        assert [ax.get_title() for ax in axes] == ["a", "b", "", ""]
        assert (axes[0].images[0].get_array() == images[0][0].numpy()).all()
        assert (axes[1].images[0].get_array() == images[1]).all()
        assert axes[0].images[0].get_cmap().name == "gray" and axes[2].images[0].get_array().shape == (4, 4, 3)
        assert not axes[3].images and not axes[0].get_xaxis().get_visible() and not axes[0].get_yaxis().get_visible()
    finally:
        plt.close(axes[0].figure)


def test_save_writes_the_current_figure(tmp_path):
    a = d2l.Animator(legend=["loss"], notebook=False, min_interval=3600)
    a.add(1, 0.5)
    a.save(tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [t.get_text() for t in a.axes[0].get_legend().get_texts()] == ["loss"]  # rendered before saving


def test_show_images_accepts_tensors_that_need_gradients():
    import matplotlib.pyplot as plt

    image = torch.rand(3, 3, requires_grad=True)
    axes = d2l.show_images([image], 1, 1)
    try:
        assert (axes[0].images[0].get_array() == image.detach().numpy()).all()
    finally:
        plt.close(axes[0].figure)
