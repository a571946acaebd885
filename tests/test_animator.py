"""The Animator: text in scripts, one in-place image in notebooks, cheap redraws, clear errors."""
from __future__ import annotations

import subprocess
import sys
import warnings

import IPython.display
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
