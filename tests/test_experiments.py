"""Comparing runs: plots and tables of histories, labels, explore_run, runs_table and sweep."""
import importlib
import re

import pytest
import torch
from matplotlib.figure import Figure

import d2l_local as d2l
from d2l_local.exercises import experiments


def history(num_epochs=3, acc=0.8, seconds=12.34):
    """A finished run's history with 2 train points per epoch."""
    h = d2l.TrainHistory(num_epochs, "cpu", status="finished", seconds=seconds)
    for e in range(num_epochs):
        for half in (0.5, 1.0):
            h.epoch.append(e + half)
            h.train_loss.append(1.0 / (e + 1 + half))
            h.train_acc.append(acc - 0.1 / (e + 1 + half))
        h.test_acc.append(acc - 0.05 / (e + 1))
    return h


# --- plot_histories and results_table -----------------------------------------------------------------

def test_plot_histories_draws_every_run_with_its_numbers():
    runs = [history(), history(num_epochs=2, acc=0.85)]
    fig = d2l.plot_histories(runs, ["a", "b"], title="pooling")
    assert isinstance(fig, Figure) and len(fig.axes) == 2 and fig._suptitle.get_text() == "pooling"  # Figure.get_suptitle() is new in matplotlib 3.8
    assert tuple(fig.get_size_inches()) == pytest.approx((8, 2.6 + 0.2 * 4))  # a legend line per run and style
    loss_ax, acc_ax = fig.axes
    assert (loss_ax.get_xlabel(), loss_ax.get_ylabel()) == ("epoch", "training loss")
    assert (acc_ax.get_xlabel(), acc_ax.get_ylabel()) == ("epoch", "accuracy")
    (legend,) = fig.legends  # one legend, under both plots
    assert loss_ax.get_legend() is None and acc_ax.get_legend() is None
    assert [t.get_text() for t in legend.get_texts()] == ["a", "b", "train accuracy (right)", "test accuracy (right)"]
    handles = legend.legend_handles if hasattr(legend, "legend_handles") else legend.legendHandles  # renamed in 3.7
    assert [h.get_color() for h in handles[:2]] == ["C0", "C1"]
    assert (handles[2].get_linestyle(), handles[3].get_marker()) == ("--", "o")
    assert handles[2].get_color() == handles[3].get_color() == "grey"  # a style, not a run's colour
    fig.draw_without_rendering()  # runs the constrained layout
    assert legend.get_window_extent().y1 <= min(ax.get_window_extent().y0 for ax in fig.axes)  # below the plots
    for i, h in enumerate(runs):
        loss, train, test = loss_ax.lines[i], acc_ax.lines[2 * i], acc_ax.lines[2 * i + 1]
        assert list(loss.get_xdata()) == h.epoch and list(loss.get_ydata()) == h.train_loss
        assert list(train.get_xdata()) == h.epoch and list(train.get_ydata()) == h.train_acc
        assert train.get_linestyle() == "--"  # training accuracy dashed, as the legend of the notebooks says
        assert list(test.get_xdata()) == list(range(1, len(h.test_acc) + 1)) and list(test.get_ydata()) == h.test_acc
        assert loss.get_color() == train.get_color() == test.get_color() == f"C{i}"


def test_results_table_lists_the_final_numbers():
    h1, h2 = history(acc=0.8, seconds=12.34), history(num_epochs=2, acc=0.9, seconds=3.0)
    table = d2l.results_table([h1, h2], ["average pooling", "max"])
    assert table.splitlines() == [
        "run              train loss  train acc  test acc",
        f"average pooling  {1 / 4:10.3f}  {0.8 - 0.1 / 4:9.3f}  {0.8 - 0.05 / 3:8.3f}",
        f"max              {1 / 3:10.3f}  {0.9 - 0.1 / 3:9.3f}  {0.9 - 0.05 / 2:8.3f}",
    ]


@pytest.mark.parametrize("args, error, match", [
    (([], []), ValueError, "need at least one training history"),
    (([history()], ["a", "b"]), ValueError, "got 1 histories but 2 labels; give one label per run"),
    (([{"test_acc": [0.5]}], ["a"]), TypeError,
     r"run 'a': expected a d2l.TrainHistory \(what train_ch6 returns\), got dict"),
    (([d2l.TrainHistory(2, "cpu")], ["empty"]), ValueError, "run 'empty' has no completed epoch to show"),
])
def test_comparison_helpers_reject_bad_input(args, error, match):
    for helper in (d2l.plot_histories, d2l.results_table):
        with pytest.raises(error, match=f"^{match}$"):
            helper(*args)


# --- describe -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings, label", [
    ({}, "sigmoid avg 6-16 k5 d120-84 lr0.9 2ep"),
    ({"activation": "relu", "pooling": "max", "batch_norm": True, "lr": 0.1},
     "relu max 6-16 k5 d120-84 bn lr0.1 2ep"),
    ({"channels": [8, 16, 32], "kernel_size": 3, "dense": [], "same_padding": True, "num_epochs": 5},
     "sigmoid avg 8-16-32 k3 d- same lr0.9 5ep"),
    ({"momentum": 0.9, "weight_decay": 5e-4, "schedule": "onecycle", "init": "kaiming", "augment": True,
      "lr": 0.2, "num_epochs": 10}, "sigmoid avg 6-16 k5 d120-84 mom0.9 wd0.0005 1cycle kaiming flip lr0.2 10ep"),
    ({"optimizer": "adamw", "momentum": 0.9, "lr": 1e-3, "dense": (96,)}, "sigmoid avg 6-16 k5 d96 adamw lr0.001 2ep"),
])
def test_describe_names_what_differs(settings, label):
    assert d2l.describe(settings) == label


# --- explore_run --------------------------------------------------------------------------------------

@pytest.fixture
def recipes_seen(monkeypatch):
    """Replace the training by a recorder that returns a one-epoch history."""
    seen = []

    def fake_train(net, train_iter, test_iter, recipe, device=None):
        seen.append((net, recipe, device))
        print("trained")
        return history(num_epochs=recipe.num_epochs, acc=0.5 + 0.1 * len(seen))

    monkeypatch.setattr(experiments, "train_with_recipe", fake_train)
    return seen


def test_explore_run_builds_the_network_and_recipe_of_its_settings(recipes_seen):
    runs = []
    settings = {"channels": (16, 32), "activation": "relu", "pooling": "max", "dense": (96,), "batch_norm": True,
                "lr": 0.2, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "onecycle", "init": "kaiming",
                "augment": True}
    run = d2l.explore_run(settings, [], [], runs, device="cpu")
    (net, recipe, device), = recipes_seen
    assert recipe == d2l.Recipe(lr=0.2, num_epochs=2, momentum=0.9, weight_decay=5e-4, schedule="onecycle",
                                init="kaiming", augment=True)
    assert repr(net) == repr(d2l.lenet_variant(channels=(16, 32), activation="relu", pooling="max", dense=(96,),
                                               batch_norm=True)) and device == "cpu"
    assert runs == [run] and set(run) == {"label", "settings", "params", "history"}
    assert run["settings"] == settings and run["settings"] is not settings
    assert run["params"] == d2l.num_params(net) == 91_162
    assert run["label"] == "relu max 16-32 k5 d96 bn mom0.9 wd0.0005 1cycle kaiming flip lr0.2 2ep"


def test_explore_run_quiet_prints_nothing(recipes_seen, capsys):
    run = d2l.explore_run({"label": "mine", "num_epochs": 1}, [], [], quiet=True)
    assert capsys.readouterr().out == "" and run["label"] == "mine" and recipes_seen[0][1].num_epochs == 1
    d2l.explore_run({}, [], [])
    assert capsys.readouterr().out == "trained\n"


@pytest.mark.parametrize("settings, error, match", [
    ({"colour": "red", "lr": 0.1, "Pooling": "max"}, ValueError,
     r"unknown setting\(s\) Pooling, colour; use channels, kernel_size, activation, pooling, dense, batch_norm, "
     r"same_padding, lr, num_epochs, optimizer, momentum, weight_decay, schedule, init, augment or label"),
    ({"lr": -1}, ValueError, "lr must be a positive number, got -1"),
    ({"kernel_size": 4}, ValueError, "kernel_size must be an odd positive int"),
])
def test_explore_run_rejects_bad_settings_before_training(recipes_seen, settings, error, match):
    runs = []
    with pytest.raises(error, match=f"^{match}"):
        d2l.explore_run(settings, [], [], runs)
    assert recipes_seen == [] and runs == []


def test_quiet_run_shows_what_stopped_it(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        print("Training interrupted: 0 of 2 epochs")
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments, "train_with_recipe", interrupted)
    with pytest.raises(KeyboardInterrupt):
        d2l.explore_run({}, [], [], quiet=True)
    assert capsys.readouterr().out == "Training interrupted: 0 of 2 epochs\n"


@pytest.mark.slow
def test_explore_run_trains_on_real_data(small, capsys):
    runs = []
    d2l.set_seed(0)
    run = d2l.explore_run({"activation": "relu", "lr": 0.1, "num_epochs": 1}, *small, runs, device="cpu")
    h = run["history"]
    assert runs == [run] and run["params"] == 61_706 and run["label"] == "relu avg 6-16 k5 d120-84 lr0.1 1ep"
    assert h.status == "finished" and h.steps == len(small[0]) and len(h.test_acc) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == f"loss {h.train_loss[-1]:.3f}, train acc {h.train_acc[-1]:.3f}, test acc {h.test_acc[-1]:.3f}"
    d2l.explore_run({"activation": "relu", "lr": 0.1, "num_epochs": 1}, *small, runs, device="cpu", quiet=True)
    assert capsys.readouterr().out == "" and len(runs) == 2


# --- runs_table ---------------------------------------------------------------------------------------

def test_runs_table_lists_each_run():
    done, cut = history(num_epochs=2, acc=0.9, seconds=61.0), d2l.TrainHistory(2, "cpu", seconds=0.5)
    runs = [{"label": "relu max", "params": 61_706, "history": done},
            {"label": "interrupted early", "params": 91_162, "history": cut}]
    assert d2l.runs_table(runs).splitlines() == [
        "run                params  train loss  test acc",
        f"relu max            61706  {1 / 3:10.3f}  {0.9 - 0.05 / 2:8.3f}",
        "interrupted early   91162           -         -",
    ]
    assert d2l.runs_table([]) == "no runs yet"


# --- sweep --------------------------------------------------------------------------------------------

class RecordingAnimator(d2l.Animator):
    made = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kwargs, self.points = kwargs, []
        RecordingAnimator.made.append(self)

    def add(self, x, y):
        self.points.append((x, list(y)))
        super().add(x, y)


def test_sweep_trains_every_config_quietly_and_plots_test_accuracy(recipes_seen, monkeypatch, capsys):
    RecordingAnimator.made = []
    monkeypatch.setattr(experiments, "Animator", RecordingAnimator)
    configs = [{"label": "x", "lr": 0.5}, {"activation": "tanh", "lr": 0.1, "num_epochs": 3}]
    runs = d2l.sweep(configs, [], [], num_epochs=2, device="cpu")
    assert [r["label"] for r in runs] == ["x", "tanh avg 6-16 k5 d120-84 lr0.1 3ep"]
    assert [recipe for _, recipe, _ in recipes_seen] == [d2l.Recipe(lr=0.5, num_epochs=2),
                                                         d2l.Recipe(lr=0.1, num_epochs=3)]
    assert "trained" not in capsys.readouterr().out  # each run is quiet
    (animator,) = RecordingAnimator.made
    assert (animator.xlabel, animator.ylabel, animator.legend) == ("epoch", "test accuracy",
                                                                  [r["label"] for r in runs])
    expected = [(e, [acc, None]) for e, acc in enumerate(runs[0]["history"].test_acc, 1)]
    expected += [(e, [None, acc]) for e, acc in enumerate(runs[1]["history"].test_acc, 1)]
    assert animator.points == expected and len(expected) == 5
    assert animator.Y == [runs[0]["history"].test_acc, runs[1]["history"].test_acc]
    assert tuple(animator.fig.get_size_inches()) == (6, 3) and animator.xlim == [0.9, 3.1]  # the longest run: 3
    assert animator.fmts == ["C0o-", "C1o-"] and animator.hidden is False


def test_sweep_checks_every_config_before_training(recipes_seen):
    with pytest.raises(ValueError, match=r"unknown setting\(s\) colour"):
        d2l.sweep([{"lr": 0.1}, {"colour": "red"}], [], [])
    assert recipes_seen == []


@pytest.mark.slow
def test_sweep_on_real_data(small):
    d2l.set_seed(0)
    runs = d2l.sweep([{"label": "x", "lr": 0.5}, {"activation": "tanh", "lr": 0.1}], *small, num_epochs=1,
                     device="cpu")
    assert [r["label"] for r in runs] == ["x", "tanh avg 6-16 k5 d120-84 lr0.1 1ep"]
    assert all(r["history"].status == "finished" and len(r["history"].test_acc) == 1 for r in runs)
    table = d2l.runs_table(runs).splitlines()
    assert len(table) == 3 and re.match(r"x +61706 ", table[1])


# --- train_seeds and seeds_table ----------------------------------------------------------------------

def test_seeds_table_gives_each_seed_the_mean_and_the_range():
    runs = {"average pooling": [history(acc=0.80), history(acc=0.82), history(acc=0.78)],
            "max": [history(acc=0.83), history(acc=0.85), history(acc=0.84)]}
    finals = {label: [h.test_acc[-1] for h in hs] for label, hs in runs.items()}
    mean = {label: sum(a) / 3 for label, a in finals.items()}
    assert d2l.seeds_table(runs, [0, 1, 2]).splitlines() == [
        "run               seed 0   seed 1   seed 2    mean  range",
        "average pooling  " + "  ".join(f"{a:7.3f}" for a in finals["average pooling"])
        + f"  {mean['average pooling']:6.3f}  {min(finals['average pooling']):.3f}-{max(finals['average pooling']):.3f}",
        "max              " + "  ".join(f"{a:7.3f}" for a in finals["max"])
        + f"  {mean['max']:6.3f}  {min(finals['max']):.3f}-{max(finals['max']):.3f}",
    ]
    with pytest.raises(ValueError, match=r"'max' has 3 runs for 2 seeds"):
        d2l.seeds_table({"max": runs["max"]}, [0, 1])


def test_train_seeds_equals_a_visible_run_with_the_same_seed(small, capsys):
    """Seed by seed, the quiet runs compute exactly what a visible train_ch6 run started the same way does."""
    train, test = small
    quiet = d2l.train_seeds(d2l.lenet, train, test, 1, 0.9, seeds=[3, 4], device="cpu")
    assert capsys.readouterr().out == ""  # nothing printed, no plot
    for seed, h in zip([3, 4], quiet):
        d2l.set_seed(seed)
        visible = d2l.train_ch6(d2l.lenet(), train, test, 1, 0.9, "cpu")
        assert (h.train_loss, h.test_acc) == (visible.train_loss, visible.test_acc)
    assert quiet[0].train_loss != quiet[1].train_loss  # different seeds, different runs


def test_plot_histories_cycles_ten_colours_and_has_no_title_unless_asked():
    runs = [history(num_epochs=1) for _ in range(11)]
    fig = d2l.plot_histories(runs, [f"r{i}" for i in range(11)])
    loss_ax, _ = fig.axes
    assert [line.get_color() for line in loss_ax.lines] == [f"C{i}" for i in range(10)] + ["C0"]
    assert fig._suptitle is None
    assert all(line.get_visible() for line in loss_ax.get_xgridlines())


def test_results_table_with_labels_shorter_than_the_header():
    assert d2l.results_table([history(num_epochs=1, acc=0.5)], [7]).splitlines() == [
        "run  train loss  train acc  test acc",
        f"7    {1 / 2:10.3f}  {0.5 - 0.1 / 2:9.3f}  {0.5 - 0.05:8.3f}"]


def test_train_seeds_shows_what_was_printed_when_a_run_fails(small, capsys):
    train, test = small

    def too_few_outputs():
        return d2l.lenet_variant(num_classes=5)

    with pytest.raises(ValueError, match=r"but the net scores only 5 classes"):
        d2l.train_seeds(too_few_outputs, train, test, 1, 0.9, seeds=[0], device="cpu")
    assert capsys.readouterr().out == "training on cpu\n"


def test_train_seeds_trains_on_the_device_asked_for(small, monkeypatch):
    """The device given, checked, reaches train_ch6 (not the best device this machine has)."""
    seen = []
    saved = importlib.import_module("d2l_local.saved.lenet")  # the module; d2l_local.saved.lenet is the function
    monkeypatch.setattr(saved, "train_ch6", lambda *args: seen.append(args[5]) or d2l.TrainHistory(1, "x"))
    monkeypatch.setattr(importlib.import_module("d2l_local.devices"), "try_gpu", lambda i=0: torch.device("meta"))
    d2l.train_seeds(d2l.lenet, *small, 1, 0.9, seeds=[0, 1], device="cpu")
    assert seen == [torch.device("cpu")] * 2


def test_seeds_table_refuses_an_unfinished_run():
    with pytest.raises(ValueError, match=r"^run 'max' has no completed epoch to show$"):
        d2l.seeds_table({"max": [d2l.TrainHistory(1, "cpu")]}, [0])


def test_plot_histories_puts_loss_and_accuracy_side_by_side():
    fig = d2l.plot_histories([history()], ["a"])
    loss_ax, acc_ax = fig.axes
    left, right = loss_ax.get_position(), acc_ax.get_position()
    assert left.x1 <= right.x0 and left.y0 == pytest.approx(right.y0)
    assert loss_ax.get_shared_x_axes().joined(loss_ax, acc_ax)
