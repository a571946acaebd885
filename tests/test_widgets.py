"""The exercise 2 explorer: its controls become explore_run settings, and Train records a run."""
import base64
from dataclasses import fields

import matplotlib
import pytest

import d2l_local as d2l
from d2l_local.exercises import widgets as panels

widgets = pytest.importorskip("ipywidgets")


def controls(panel):
    """The panel's controls by their description (the Train button included)."""
    return {w.description: w for box in panel.children[0].children for w in box.children}


@pytest.fixture
def explored(monkeypatch):
    """Replace explore_run by a recorder that appends a finished one-epoch run."""
    calls = []

    def fake_explore_run(settings, train_iter, test_iter, runs=None, device=None, quiet=False):
        calls.append((settings, train_iter, test_iter, device))
        h = d2l.TrainHistory(1, "cpu", epoch=[1.0], train_loss=[0.5], train_acc=[0.8], test_acc=[0.75],
                             status="finished", seconds=2.0)
        run = {"label": d2l.describe(settings), "settings": settings, "params": 1, "history": h}
        runs.append(run)
        return run

    monkeypatch.setattr(panels, "explore_run", fake_explore_run)
    return calls


def test_every_recipe_field_has_a_control(explored):
    panel = d2l.lenet_explorer([], [], runs=[])
    assert isinstance(panel, widgets.VBox) and len(panel.children) == 3
    controls(panel)["Train"].click()
    (settings, *_), = explored
    recipe_fields = {f.name for f in fields(d2l.Recipe)}
    assert recipe_fields <= set(settings)
    assert d2l.Recipe(**{k: settings[k] for k in recipe_fields}) == d2l.Recipe(lr=0.1, num_epochs=2)
    assert {k: settings[k] for k in set(settings) - recipe_fields} == {
        "activation": "relu", "pooling": "max", "kernel_size": 5, "batch_norm": False, "channels": [6, 16],
        "dense": [120, 84], "same_padding": False}


def test_controls_become_the_runs_settings(explored, capsys):
    runs, train_iter, test_iter = [], object(), object()
    panel = d2l.lenet_explorer(train_iter, test_iter, runs=runs, device="cpu")
    c = controls(panel)
    c["activation"].value, c["pooling"].value, c["kernel size"].value = "gelu", "avg", 3
    c["conv 1 channels"].value, c["conv 3 channels"].value = 8, 32  # three conv layers: same padding
    c["hidden dense"].value, c["batch norm"].value = "96", True
    c["learning rate"].value, c["epochs"].value, c["optimizer"].value = 10 ** -0.75, 4, "sgd"
    c["momentum (sgd)"].value, c["weight decay"].value, c["lr schedule"].value = 0.9, 5e-4, "onecycle"
    c["init"].value, c["random flips"].value = "kaiming", True
    c["Train"].click()
    (settings, got_train, got_test, device), = explored
    assert (got_train, got_test, device) == (train_iter, test_iter, "cpu")
    assert settings == {"activation": "gelu", "pooling": "avg", "kernel_size": 3, "batch_norm": True,
                        "channels": [8, 16, 32], "dense": [96], "same_padding": True,
                        "lr": 0.178, "num_epochs": 4, "optimizer": "sgd",  # lr to 3 digits, as in its label
                        "momentum": 0.9, "weight_decay": 5e-4, "schedule": "onecycle", "init": "kaiming",
                        "augment": True}
    assert len(runs) == 1 and runs[0]["settings"] is settings
    assert not c["Train"].disabled
    table, plot = panel.children[2].outputs  # the comparison below the panel
    assert table == {"output_type": "stream", "name": "stdout", "text": d2l.runs_table(runs) + "\n"}
    assert base64.b64decode(plot["data"]["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
    c["hidden dense"].value, c["conv 3 channels"].value = "none", 0
    c["Train"].click()
    assert explored[1][0]["dense"] == [] and explored[1][0]["channels"] == [8, 16]
    assert explored[1][0]["same_padding"] is False and len(runs) == 2


def test_the_panel_offers_its_comparison_plot_as_a_still(explored):
    """Beside the live view, the display data hold the comparison's PNG once there is a run to compare."""
    runs = []
    panel = d2l.lenet_explorer([], [], runs)
    bundle = panel._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "application/vnd.jupyter.widget-view+json"}  # nothing to picture yet
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.model_id
    controls(panel)["Train"].click()
    (_, plot), bundle = panel.children[2].outputs, panel._repr_mimebundle_()
    assert bundle["image/png"] == plot["data"]["image/png"]
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.model_id
    controls(panel)["Train"].click()
    (_, newer), bundle = panel.children[2].outputs, panel._repr_mimebundle_()
    assert newer != plot and bundle["image/png"] == newer["data"]["image/png"]  # two runs now


def test_a_failed_run_enables_the_button_again(monkeypatch, caplog, capsys):
    def failing(*args, **kwargs):
        raise ValueError("lr must be a positive number")

    monkeypatch.setattr(panels, "explore_run", failing)
    runs = []
    panel = d2l.lenet_explorer([], [], runs)
    controls(panel)["Train"].click()  # ipywidgets reports a callback's error (in a notebook: below the cell)
    # ...through the log, or as a traceback on stdout once an IPython shell exists in this process
    assert "lr must be a positive number" in caplog.text + capsys.readouterr().out
    assert not controls(panel)["Train"].disabled and runs == []


@pytest.mark.slow
def test_train_on_real_data_appends_the_run(small):
    runs = []
    panel = d2l.lenet_explorer(*small, runs=runs, device="cpu")
    c = controls(panel)
    c["epochs"].value, c["conv 3 channels"].value, c["lr schedule"].value = 1, 16, "onecycle"
    c["Train"].click()
    (run,) = runs
    assert run["settings"]["channels"] == [6, 16, 16] and run["settings"]["schedule"] == "onecycle"
    assert run["label"] == "relu max 6-16-16 k5 d120-84 same 1cycle lr0.1 1ep"
    assert run["params"] == d2l.num_params(d2l.lenet_variant(channels=(6, 16, 16), activation="relu",
                                                             pooling="max", same_padding=True))
    assert run["history"].status == "finished" and len(run["history"].test_acc) == 1


def test_a_figure_becomes_a_png_display_output():
    import base64

    fig = d2l.new_figure((2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    output = panels._figure_output(fig)
    assert set(output) == {"output_type", "metadata", "data"} and output["output_type"] == "display_data"
    assert output["metadata"] == {} and output["data"]["text/plain"] == repr(fig)
    assert base64.b64decode(output["data"]["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
    with matplotlib.rc_context({"savefig.format": "svg"}):  # a user's own default format changes nothing
        assert base64.b64decode(panels._figure_output(fig)["data"]["image/png"]).startswith(b"\x89PNG")


def test_the_explorer_offers_the_choices_the_notebook_describes():
    c = controls(d2l.lenet_explorer(object(), object(), runs=[], device="cpu"))
    choices = {name: (list(w.options), w.value) for name, w in c.items() if hasattr(w, "options")}
    assert choices == {
        "activation": (list(d2l.ACTIVATIONS), "relu"), "pooling": (list(d2l.POOLING), "max"),
        "kernel size": ([3, 5, 7], 5), "conv 1 channels": ([4, 6, 8, 16, 32], 6),
        "conv 2 channels": ([8, 16, 32, 64], 16), "conv 3 channels": ([0, 16, 32, 64], 0),
        "hidden dense": (["none", "32", "96", "120-84", "256-128"], "120-84"), "optimizer": (["sgd", "adamw"], "sgd"),
        "momentum (sgd)": ([0.0, 0.9], 0.0), "weight decay": ([0.0, 1e-4, 5e-4, 1e-3], 0.0),
        "lr schedule": (["constant", "onecycle"], "constant"), "init": (["xavier", "kaiming", "default"], "xavier")}
    lr, epochs = c["learning rate"], c["epochs"]
    assert (lr.value, lr.base, lr.min, lr.max, lr.step) == (0.1, 10, -3, 0.5, 0.25)
    assert (epochs.value, epochs.min, epochs.max) == (2, 1, 10)
    assert (c["batch norm"].value, c["random flips"].value) == (False, False)
    assert all(w.style.description_width == "110px" for name, w in c.items() if name != "Train")
