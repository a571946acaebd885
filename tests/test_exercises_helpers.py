"""Unit tests for the helpers the exercise notebooks save into d2l_local (and the widgets built on them)."""

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import d2l_local as d2l


@pytest.fixture(scope="module")
def small(fashion):
    """A real but small slice of Fashion-MNIST, so training tests take a second."""
    train_iter, test_iter = fashion
    X, y = train_iter.dataset.tensors
    Xt, yt = test_iter.dataset.tensors
    return (d2l.TensorBatches(X[:1024], y[:1024], 128, shuffle=True),
            d2l.TensorBatches(Xt[:512], yt[:512], 128))


def _history(n_epochs=3, acc=0.8):
    h = d2l.TrainHistory(n_epochs, "cpu")
    for e in range(n_epochs):
        h.add_train_point(e + 1.0, 1.0 / (e + 1), acc - 0.1 / (e + 1))
        h.test_acc.append(acc - 0.05 / (e + 1))
    h.finish("finished")
    return h


# --- exercise 1: LeNet with a choice of pooling, comparison plot and table --------------------------

def test_lenet_matches_the_chapter_for_both_poolings():
    for pooling, Pool in (("avg", nn.AvgPool2d), ("max", nn.MaxPool2d)):
        net = d2l.lenet(pooling)
        assert sum(p.numel() for p in net.parameters()) == 61706
        assert sum(isinstance(m, Pool) for m in net) == 2
        assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_lenet_rejects_unknown_pooling():
    with pytest.raises(ValueError, match="'avg' or 'max'"):
        d2l.lenet("mean")


def test_plot_histories_draws_every_run():
    fig = d2l.plot_histories([_history(), _history(acc=0.85)], ["a", "b"], title="t")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 4
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "accuracy"
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["a", "b"]


def test_results_table_lists_final_numbers():
    h = _history()
    lines = d2l.results_table([h], ["my run"]).splitlines()
    assert lines[0].split()[:3] == ["run", "train", "loss"]
    assert lines[1].startswith("my run") and f"{h.test_acc[-1]:.3f}" in lines[1]


@pytest.mark.parametrize("args, error", [
    (([], []), ValueError),
    (([_history()], ["a", "b"]), ValueError),
    (([{"test_acc": [0.5]}], ["a"]), TypeError),
    (([d2l.TrainHistory(2, "cpu")], ["empty"]), ValueError),
])
def test_comparison_helpers_reject_bad_input(args, error):
    for helper in (d2l.plot_histories, d2l.results_table):
        with pytest.raises(error):
            helper(*args)


# --- exercise 2: configurable LeNet, training function, explorer ------------------------------------

def test_lenet_variant_defaults_rebuild_the_chapter_lenet():
    variant, chapter = d2l.lenet_variant(), d2l.lenet()
    assert [type(m) for m in variant] == [type(m) for m in chapter]
    assert [p.shape for p in variant.parameters()] == [p.shape for p in chapter.parameters()]


@pytest.mark.parametrize("kwargs", [
    dict(channels=(16, 32), activation="relu", pooling="max", dense=(96,), batch_norm=True),
    dict(channels=(8, 16, 32), kernel_size=3, activation="gelu", dense=()),
    dict(channels=(8, 16, 32), kernel_size=5, same_padding=True, dense=(64, 32), activation="tanh"),
    dict(channels=(4,), kernel_size=7, activation="leaky_relu"),
])
def test_lenet_variant_shapes(kwargs):
    net = d2l.lenet_variant(**kwargs)
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert d2l.num_params(net) == sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("kwargs, match", [
    (dict(activation="swish"), "activation"),
    (dict(pooling="min"), "pooling"),
    (dict(kernel_size=4), "odd"),
    (dict(channels=()), "at least one"),
    (dict(channels=(6, 0)), "positive"),
    (dict(channels=(6, 16, 32), kernel_size=5), "shrink"),
])
def test_lenet_variant_explains_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        d2l.lenet_variant(**kwargs)


def test_improved_lenet_fits_the_budget():
    net = d2l.improved_lenet()
    assert d2l.num_params(net) <= 100_000
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_train_variant_learns_on_real_data(small):
    train_iter, test_iter = small
    d2l.set_seed(0)
    net = d2l.lenet_variant(activation="relu", pooling="max", batch_norm=True)
    h = d2l.train_variant(net, train_iter, test_iter, 2, lr=0.1, device="cpu", momentum=0.9,
                          schedule="onecycle", init="kaiming", augment=True, plot=False, verbose=False)
    assert h.status == "finished" and len(h.test_acc) == 2 and h.steps == 2 * len(train_iter)
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.test_acc[-1] > 0.5  # far above chance (0.1) after 16 small batches


@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer="rmsprop"), "optimizer"),
    (dict(schedule="cosine"), "schedule"),
    (dict(init="zeros"), "init"),
    (dict(lr=0), "lr"),
    (dict(lr="fast"), "lr"),
])
def test_train_variant_explains_bad_settings(small, kwargs, match):
    args = dict(lr=0.1, device="cpu", plot=False, verbose=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        d2l.train_variant(d2l.lenet_variant(), *small, 1, **args)


def test_random_flip_mirrors_about_half():
    torch.manual_seed(0)
    X = torch.arange(28.0).repeat(1000, 1, 28, 1)
    flipped = d2l.random_flip(X)
    mirrored = (flipped == X.flip(3)).flatten(1).all(1)
    assert ((flipped == X).flatten(1).all(1) | mirrored).all()
    assert 400 < int(mirrored.sum()) < 600


def test_explore_run_sweep_and_table(small):
    runs = []
    run = d2l.explore_run({"activation": "relu", "lr": 0.1, "num_epochs": 1}, *small, runs, device="cpu",
                          plot=False, verbose=False)
    assert runs == [run] and run["params"] == 61706 and run["label"].startswith("relu avg 6-16 k5")
    more = d2l.sweep([{"label": "x", "lr": 0.5}, {"activation": "tanh", "lr": 0.1}], *small, num_epochs=1,
                     device="cpu")
    assert [r["label"] for r in more][0] == "x" and len(more) == 2
    table = d2l.runs_table(runs + more).splitlines()
    assert len(table) == 4 and table[0].split()[:2] == ["run", "params"]
    with pytest.raises(ValueError, match="unknown setting"):
        d2l.explore_run({"colour": "red"}, *small)


def test_lenet_explorer_trains_on_click(small):
    widgets = pytest.importorskip("ipywidgets")
    runs = []
    panel = d2l.lenet_explorer(*small, runs=runs, device="cpu")
    assert isinstance(panel, widgets.VBox)
    controls = [w for box in panel.children[0].children for w in box.children]
    by_name = {w.description: w for w in controls}
    by_name["epochs"].value = 1
    by_name["conv 3 channels"].value = 16  # three conv layers: same padding is switched on
    by_name["Train"].click()
    assert len(runs) == 1 and runs[0]["settings"]["channels"] == [6, 16, 16]
    assert len(runs[0]["history"].test_acc) == 1


# --- exercise 4: feature maps ----------------------------------------------------------------------

def test_feature_maps_shapes_for_lenet():
    maps = d2l.feature_maps(d2l.lenet(), torch.rand(3, 1, 28, 28))
    assert [tuple(m.shape) for m in maps] == [(3, 6, 28, 28), (3, 16, 10, 10)]
    assert all(0 <= float(m.min()) and float(m.max()) <= 1 for m in maps)  # sigmoid outputs


def test_feature_maps_end_after_batch_norm_and_activation():
    net = d2l.improved_lenet().eval()
    maps = d2l.feature_maps(net, torch.rand(2, 1, 28, 28))
    assert [tuple(m.shape) for m in maps] == [(2, 16, 28, 28), (2, 32, 10, 10)]
    assert float(maps[0].min()) >= 0  # taken after the ReLU


@pytest.mark.parametrize("net, X, error", [
    (nn.Linear(2, 2), torch.rand(1, 1, 28, 28), TypeError),
    (nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), torch.rand(1, 1, 28, 28), ValueError),
    (None, torch.rand(28, 28), ValueError),
])
def test_feature_maps_rejects_bad_input(net, X, error):
    with pytest.raises(error):
        d2l.feature_maps(net if net is not None else d2l.lenet(), X)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_plot_feature_maps_panels(fashion, n):
    _, test_iter = fashion
    X, titles = d2l.pick_examples(test_iter, list(range(n)))
    fig = d2l.plot_feature_maps(d2l.lenet(), X, titles)
    images = [ax for ax in fig.axes if ax.images]
    # per input: the image, 6 maps of block 1, 16 maps of block 2; plus one colour bar per block
    assert len(images) == n * (1 + 6 + 16)
    assert len(fig.axes) == n * (1 + 6 + 16) + 2
    assert [ax.get_title() for ax in fig.axes if ax.get_title()][:n] == titles


def test_plot_feature_maps_every_class(fashion):
    _, test_iter = fashion
    net = d2l.lenet()
    names = d2l.get_fashion_mnist_labels(range(10))
    for a, b in zip(names, names[1:] + names[:1]):
        X, titles = d2l.pick_examples(test_iter, [a, b], [3, 7])
        assert titles == [f"{a} #3", f"{b} #7"]
        assert isinstance(d2l.plot_feature_maps(net, X, titles), Figure)


def test_plot_feature_maps_odd_channel_count():
    net = d2l.lenet_variant(channels=(5, 7), activation="relu")
    fig = d2l.plot_feature_maps(net, torch.rand(2, 1, 28, 28))
    assert len([ax for ax in fig.axes if ax.images]) == 2 * (1 + 5 + 7)


@pytest.mark.parametrize("kwargs, error", [
    (dict(X=torch.rand(2, 3, 28, 28)), ValueError),
    (dict(X=torch.rand(7, 1, 28, 28)), ValueError),
    (dict(titles=["only one"]), ValueError),
    (dict(blocks=(0, 2)), ValueError),
])
def test_plot_feature_maps_rejects_bad_input(kwargs, error):
    args = dict(net=d2l.lenet(), X=torch.rand(2, 1, 28, 28))
    args.update(kwargs)
    with pytest.raises(error):
        d2l.plot_feature_maps(**args)


def test_pick_examples_finds_the_right_class(fashion):
    _, test_iter = fashion
    X, titles = d2l.pick_examples(test_iter, ["pullover", "coat"], [0, 5])
    assert X.shape == (2, 1, 28, 28) and titles == ["pullover #0", "coat #5"]
    images, labels = test_iter.dataset.tensors
    coats = (labels == 4).nonzero().flatten()
    assert torch.equal(X[1], images[coats[5]])


@pytest.mark.parametrize("args, match", [
    ((["jumper"],), "unknown class"),
    ((["coat"], [5000]), "from 0 to 999"),
    ((["coat", "bag"], [1]), "one index per class"),
    (([11],), "number from 0 to 9"),
])
def test_pick_examples_explains_bad_input(fashion, args, match):
    with pytest.raises(ValueError, match=match):
        d2l.pick_examples(fashion[1], *args)


def test_pick_examples_needs_a_course_loader():
    with pytest.raises(TypeError, match="load_data_fashion_mnist"):
        d2l.pick_examples([(torch.rand(1, 1, 28, 28), torch.tensor([0]))], ["coat"])


def test_feature_map_explorer_redraws(fashion):
    widgets = pytest.importorskip("ipywidgets")
    panel = d2l.feature_map_explorer(d2l.lenet(), fashion[1])
    assert isinstance(panel, widgets.VBox)
    (first, second) = panel.children[0].children
    first.children[0].value = "bag"
    first.children[1].value = 12
    second.children[0].value = "sneaker"
    assert second.children[1].max == 999
