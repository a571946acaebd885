"""Exercise 4's tools: feature maps equal the layers run by hand, examples are picked the same from any loader."""
from __future__ import annotations

import base64
import gzip
import re
import shutil

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import d2l_local as d2l

NAMES = d2l.get_fashion_mnist_labels(range(10))


def _bn_net() -> nn.Sequential:
    """Two conv blocks with batch norm; running statistics far from their defaults, so eval and train differ."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8), nn.GELU(), nn.Flatten(), nn.Linear(8 * 12 * 12, 10))
    for bn in (net[1], net[5]):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    return net


def _nth(images: torch.Tensor, labels: torch.Tensor, cls: int, index: int) -> torch.Tensor:
    """The index-th example of class cls, computed straight from the tensors."""
    return images[torch.nonzero(labels == cls).flatten()[index]]


class Counting:
    """A re-iterable list of batches that counts how many batches were read."""

    def __init__(self, batches):
        self.batches, self.read = batches, 0

    def __iter__(self):
        for batch in self.batches:
            self.read += 1
            yield batch


@pytest.fixture(scope="module")
def random_loaders():
    """600 random 'images' with random labels 0-9 (class 9 missing), as tensors and as three kinds of loader."""
    g = torch.Generator().manual_seed(0)
    images = torch.rand(600, 1, 28, 28, generator=g)
    labels = torch.randint(0, 9, (600,), generator=g)
    loaders = {
        "TensorBatches": d2l.TensorBatches(images, labels, 64),
        "DataLoader": torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=64),
        "list": [(images[i:i + 50], labels[i:i + 50]) for i in range(0, 600, 50)],
    }
    return images, labels, loaders


KINDS = ["TensorBatches", "DataLoader", "list"]


# --- feature_maps -----------------------------------------------------------------------------------

def test_feature_maps_equal_lenet_layers_run_by_hand():
    torch.manual_seed(0)
    net, X = d2l.lenet(), torch.rand(3, 1, 28, 28)
    maps = d2l.feature_maps(net, X)
    with torch.no_grad():
        expected = [net[:2](X), net[:5](X)]  # conv + sigmoid; then pool, conv + sigmoid
    assert [tuple(m.shape) for m in maps] == [(3, 6, 28, 28), (3, 16, 10, 10)]
    for m, e in zip(maps, expected):
        assert m.device.type == "cpu" and m.is_contiguous() and not m.requires_grad
        torch.testing.assert_close(m, e, rtol=0, atol=0)


@pytest.mark.parametrize("training", [True, False])
def test_feature_maps_end_after_batch_norm_and_activation_in_eval_mode(training):
    net = _bn_net().train(training)
    stats = [t.clone() for t in (net[1].running_mean, net[5].running_var)]
    X = torch.rand(2, 1, 28, 28)
    maps = d2l.feature_maps(net, X)
    assert net.training is training and all(m.training is training for m in net)  # mode restored
    assert torch.equal(net[1].running_mean, stats[0]) and torch.equal(net[5].running_var, stats[1])
    with torch.no_grad():
        net.eval()
        expected = [net[:3](X), net[:7](X)]  # conv, batch norm (running stats), activation
    torch.testing.assert_close(maps[0], expected[0], rtol=0, atol=0)
    torch.testing.assert_close(maps[1], expected[1], rtol=0, atol=0)
    assert float(maps[0].min()) >= 0  # taken after the ReLU


def test_feature_maps_accept_other_dtypes():
    net = d2l.lenet()
    X = (torch.rand(2, 1, 28, 28) * 255).to(torch.uint8)
    torch.testing.assert_close(d2l.feature_maps(net, X)[0], d2l.feature_maps(net, X.float())[0], rtol=0, atol=0)


@pytest.mark.parametrize("net, X, error, match", [
    (nn.Linear(2, 2), torch.rand(1, 1, 28, 28), TypeError, "feature_maps needs an nn.Sequential such as LeNet, got Linear"),
    (nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), torch.rand(1, 1, 28, 28), ValueError,
     "the network has no Conv2d layer, so it has no feature maps to show"),
    (None, torch.rand(28, 28), ValueError,
     r"X must be a batch of images shaped \(batch, channels, height, width\), got \(28, 28\)"),
    (None, [[0.0]], ValueError, r"X must be a batch of images shaped \(batch, channels, height, width\), got list"),
])
def test_feature_maps_explain_bad_input(net, X, error, match):
    with pytest.raises(error, match=f"^{match}$"):
        d2l.feature_maps(net if net is not None else d2l.lenet(), X)


# --- pick_examples and class_counts ------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_pick_examples_takes_the_index_th_example_of_each_class(random_loaders, kind):
    images, labels, loaders = random_loaders
    classes, indices = ["coat", 4, "t-shirt", "bag", 0], [5, 0, 0, 7, 3]
    X, titles = d2l.pick_examples(loaders[kind], classes, indices)
    numbers = [4, 4, 0, 8, 0]
    assert titles == [f"{NAMES[c]} #{i}" for c, i in zip(numbers, indices)]
    assert torch.equal(X, torch.stack([_nth(images, labels, c, i) for c, i in zip(numbers, indices)]))


def test_pick_examples_agrees_across_loaders_up_to_the_last_example(random_loaders):
    images, labels, loaders = random_loaders
    last = [int((labels == c).sum()) - 1 for c in range(9)]
    picks = [d2l.pick_examples(loaders[kind], list(range(9)), last) for kind in KINDS]
    expected = torch.stack([_nth(images, labels, c, i) for c, i in enumerate(last)])
    for X, titles in picks:
        assert torch.equal(X, expected) and titles == picks[0][1]


def test_pick_examples_defaults_to_the_first_example(random_loaders):
    images, labels, loaders = random_loaders
    X, titles = d2l.pick_examples(loaders["list"], "sandal")
    assert titles == ["sandal #0"] and torch.equal(X[0], _nth(images, labels, 5, 0))
    X, titles = d2l.pick_examples(loaders["list"], 2, names=list("abcdefghij"))
    assert titles == ["c #0"] and torch.equal(X[0], _nth(images, labels, 2, 0))


def test_pick_examples_stops_reading_once_everything_is_found(random_loaders):
    images, labels, loaders = random_loaders
    batches = Counting(loaders["list"])
    first_two = labels[:100]
    cls = int(first_two[60])  # an example in the second batch of 50
    index = int((first_two[:61] == cls).sum()) - 1
    X, _ = d2l.pick_examples(batches, [cls], [index])
    assert batches.read == 2 and torch.equal(X[0], images[60])


def test_pick_examples_reads_the_course_loaders_in_their_stored_order(random_loaders):
    images, labels, _ = random_loaders
    shuffled = d2l.TensorBatches(images, labels, 64, shuffle=True)
    state = torch.get_rng_state()
    X, _ = d2l.pick_examples(shuffled, ["pullover", "dress"], [3, 9])
    assert torch.equal(torch.get_rng_state(), state)  # no shuffle was drawn
    assert torch.equal(X, torch.stack([_nth(images, labels, 2, 3), _nth(images, labels, 3, 9)]))


def test_pick_examples_resizes_like_the_loader(random_loaders):
    images, labels, _ = random_loaders
    X, _ = d2l.pick_examples(d2l.TensorBatches(images, labels, 64, resize=32), ["coat"], [2])
    expected = F.interpolate(_nth(images, labels, 4, 2)[None], size=(32, 32), mode="bilinear", antialias=True,
                             align_corners=False)
    assert torch.equal(X, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_class_counts_match_bincount(random_loaders, kind):
    _, labels, loaders = random_loaders
    counts = d2l.class_counts(loaders[kind])
    assert counts == torch.bincount(labels, minlength=10).tolist() and counts[9] == 0
    assert d2l.class_counts(loaders[kind], num_classes=12) == counts + [0, 0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("args, match", [
    ((["jumper"],), "unknown class 'jumper'; choose one of t-shirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot$"),
    ((["coat", "bag"], [1]), "got 2 classes but 1 indices; give one index per class"),
    (([11],), "class must be a name or a number from 0 to 9, got 11"),
    (([True],), "class must be a name or a number from 0 to 9, got True"),
    ((["ankle boot"],), "this data has no examples of class 'ankle boot'"),
])
def test_pick_examples_explains_bad_choices(random_loaders, kind, args, match):
    with pytest.raises(ValueError, match=f"^{match}$"):
        d2l.pick_examples(random_loaders[2][kind], *args)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("index", [-1, True, 1.0, 10_000])
def test_pick_examples_explains_bad_indices_with_the_class_count(random_loaders, kind, index):
    _, labels, loaders = random_loaders
    n = int((labels == 4).sum())
    match = rf"index for class 'coat' must be an int from 0 to {n - 1} \(this data has {n} examples of it\), got "
    with pytest.raises(ValueError, match=match + repr(index)):
        d2l.pick_examples(loaders[kind], ["bag", "coat"], [0, index])


@pytest.mark.parametrize("data, error, match", [
    (42, TypeError, r"data_iter must be an iterable of \(X, y\) batches, such as a loader from "
                    r"d2l\.load_data_fashion_mnist or a torch DataLoader, got int"),
    ([torch.rand(2, 1, 28, 28)], TypeError, r"data_iter must yield \(X, y\) batches, got a Tensor"),
    ([(torch.rand(2, 1, 28, 28), torch.tensor([0, 1, 2]))], ValueError,
     r"each batch needs one label per image: got 2 images and labels shaped \(3,\)"),
    ([(torch.rand(1, 1, 28, 28), torch.tensor([10]))], ValueError, "labels must be class numbers from 0 to 9, found 10"),
    ([(torch.rand(1, 1, 28, 28), torch.tensor([-1]))], ValueError, "labels must be class numbers from 0 to 9, found -1"),
])
def test_loaders_that_are_not_batches_are_explained(data, error, match):
    with pytest.raises(error, match=f"^{match}$"):
        d2l.class_counts(data)
    if "found" not in match:  # picking does not check labels it does not look for
        with pytest.raises(error, match=f"^{match}$"):
            d2l.pick_examples(data, ["coat"])


def test_class_counts_rejects_a_bad_number_of_classes():
    with pytest.raises(ValueError, match="num_classes must be a positive int, got 0"):
        d2l.class_counts([], 0)


def test_pick_examples_on_real_data_from_every_kind_of_loader(fashion, data_root, tmp_path):
    """The course's loader, a DataLoader over the same tensors and one over torchvision's FashionMNIST agree."""
    torchvision = pytest.importorskip("torchvision")
    from torchvision import transforms

    _, test_iter = fashion
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    source = data_root / "FashionMNIST" / "raw"
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(source / f"{stem}.gz") as src, open(raw / stem, "wb") as dst:
            shutil.copyfileobj(src, dst)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (raw / stem).touch()  # torchvision only checks that the training files exist; we read the test split
    vision = torchvision.datasets.FashionMNIST(tmp_path, train=False, transform=transforms.ToTensor())
    loaders = [test_iter,
               torch.utils.data.DataLoader(torch.utils.data.TensorDataset(test_iter.images, test_iter.labels), 256),
               torch.utils.data.DataLoader(vision, batch_size=256)]
    classes, indices = ["pullover", "coat", "bag", "pullover"], [0, 5, 2, 1]
    expected = torch.stack([_nth(test_iter.images, test_iter.labels, NAMES.index(c), i)
                            for c, i in zip(classes, indices)])
    for loader in loaders:
        X, titles = d2l.pick_examples(loader, classes, indices)
        assert titles == ["pullover #0", "coat #5", "bag #2", "pullover #1"]
        assert torch.equal(X, expected)
    with pytest.raises(ValueError, match=r"from 0 to 999 \(this data has 1000 examples of it\), got 1000"):
        d2l.pick_examples(loaders[1], ["coat"], [1000])
    assert d2l.class_counts(test_iter) == torch.bincount(test_iter.labels, minlength=10).tolist() == [1000] * 10


# --- plot_feature_maps --------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 3])
def test_plot_feature_maps_shows_every_map_with_shared_colour_limits(n):
    torch.manual_seed(0)
    net, X = d2l.lenet(), torch.rand(n, 1, 28, 28)
    titles = [f"image {r}" for r in range(n)]
    fig = d2l.plot_feature_maps(net, X, titles)
    with torch.no_grad():
        expected = [net[:2](X), net[:5](X)]
    inputs, *blocks = fig.subfigs
    assert [ax.get_title() for ax in inputs.axes] == titles
    assert inputs._suptitle.get_text() == "input" and inputs._suptitle.get_fontsize() == 10
    # 0.75 inch per column of maps (3 and 8) and 2 for the inputs, 0.4 per colour bar; 1.5 per input and 1 more
    assert tuple(fig.get_size_inches()) == pytest.approx((0.75 * (2 + 3 + 8) + 0.4 * 2, 1.5 * n + 1.0))
    for r, ax in enumerate(inputs.axes):
        assert (ax.images[0].get_array() == X[r, 0].numpy()).all()
    for b, (part, maps) in enumerate(zip(blocks, expected)):
        channels = maps.shape[1]
        grid, colorbar = part.axes[:-1], part.axes[-1]
        assert len(grid) == 2 * n * (channels // 2) and all(len(ax.images) == 1 for ax in grid)
        assert colorbar.get_xlabel() == f"block {b + 1} activation"
        assert part._suptitle.get_text() == f"block {b + 1}: {channels} maps of {maps.shape[2]}x{maps.shape[3]} pixels"
        limits = (pytest.approx(float(maps.min())), pytest.approx(float(maps.max())))
        c = channels // 2
        for r in range(n):
            for k in range(channels):
                image = grid[(2 * r + k // c) * c + k % c].images[0]
                assert image.get_clim() == limits
                torch.testing.assert_close(torch.from_numpy(image.get_array().data), maps[r, k])
                (number,) = image.axes.texts  # the channel's number in the panel's top left corner
                assert (number.get_text(), number.get_position()) == (str(k), (0.04, 0.96))
                assert number.get_transform() == image.axes.transAxes
        assert colorbar.get_box_aspect() == pytest.approx(1 / 25)  # a long thin bar under the maps


def test_plot_feature_maps_one_block_and_odd_channel_counts():
    net = nn.Sequential(nn.Conv2d(1, 5, 3), nn.ReLU(), nn.Conv2d(5, 7, 3), nn.Tanh())
    fig = d2l.plot_feature_maps(net, torch.rand(2, 1, 28, 28), blocks=(1,), cmap="gray")
    assert len(fig.subfigs) == 2
    grid = fig.subfigs[1].axes[:-1]
    assert len(grid) == 2 * 2 * 4  # 7 maps in two rows of 4 per input, the last panel left empty
    assert sum(bool(ax.images) for ax in grid) == 2 * 7 and sum(not ax.axison for ax in grid) == 2
    assert grid[0].images[0].get_cmap().name == "gray"
    assert [ax.get_title() for ax in fig.subfigs[0].axes] == ["input 0", "input 1"]


@pytest.mark.parametrize("training", [True, False])
def test_plot_feature_maps_restores_the_mode(training):
    net = _bn_net().train(training)
    d2l.plot_feature_maps(net, torch.rand(1, 1, 28, 28))
    assert net.training is training and all(m.training is training for m in net)


@pytest.mark.parametrize("kwargs, match", [
    (dict(X=torch.rand(2, 3, 28, 28)),
     r"X must be grey-scale images shaped \(batch, 1, height, width\), got \(2, 3, 28, 28\)"),
    (dict(X=[[0.0]]), r"X must be grey-scale images shaped \(batch, 1, height, width\), got list"),
    (dict(X=torch.rand(2, 1, 28)), r"X must be grey-scale images shaped \(batch, 1, height, width\), got \(2, 1, 28\)"),
    (dict(X=torch.rand(7, 1, 28, 28)), "show between 1 and 6 images at a time, got 7"),
    (dict(X=torch.rand(0, 1, 28, 28)), "show between 1 and 6 images at a time, got 0"),
    (dict(titles=["only one"]), "got 1 titles for 2 images"),
    (dict(blocks=(0, 2)), r"block 2 does not exist: the network has 2 convolution block\(s\), numbered 0 to 1"),
    (dict(blocks=(True,)), r"block True does not exist: the network has 2 convolution block\(s\), numbered 0 to 1"),
    (dict(blocks=(-1,)), r"block -1 does not exist: .*"),
])
def test_plot_feature_maps_explains_bad_input(kwargs, match):
    args = dict(net=d2l.lenet(), X=torch.rand(2, 1, 28, 28))
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{match}$"):
        d2l.plot_feature_maps(**args)


# --- feature_map_explorer -----------------------------------------------------------------------------

@pytest.fixture
def drawn(monkeypatch):
    """Record each figure the explorer shows, instead of rendering it to PNG (the slow part)."""
    import d2l_local.exercises.widgets as module

    figures = []

    def record(fig):
        figures.append(fig)
        return {"output_type": "display_data", "metadata": {}, "data": {"text/plain": f"figure {len(figures)}"}}

    monkeypatch.setattr(module, "_figure_output", record)
    return figures


def _parts(panel):
    (out,) = panel.children[1:]
    return [(box.children[0], box.children[1]) for box in panel.children[0].children], out


def _shown(fig) -> tuple[list[str], torch.Tensor]:
    """The titles and pixels of the input images in a feature-map figure."""
    axes = fig.subfigs[0].axes
    return [ax.get_title() for ax in axes], torch.stack([torch.from_numpy(ax.images[0].get_array().data) for ax in axes])


def test_feature_map_explorer_redraws_the_chosen_examples(fashion, drawn):
    widgets = pytest.importorskip("ipywidgets")
    _, test_iter = fashion
    images, labels = test_iter.images, test_iter.labels
    panel = d2l.feature_map_explorer(d2l.lenet(), test_iter)
    assert isinstance(panel, widgets.VBox)
    (first, second), out = _parts(panel)
    assert [first[0].value, second[0].value] == ["pullover", "coat"] and first[0].options == tuple(NAMES)
    assert [w.description for w in (*first, *second)] == ["class", "example #"] * 2
    assert [w.layout.width for w in first] == ["220px", "200px"] and first[1].min == 0 and first[1].value == 0
    assert first[1].max == second[1].max == int(torch.bincount(labels)[4]) - 1 == 999
    assert len(drawn) == 1 and out.outputs[0]["data"]["text/plain"] == "figure 1"
    first[0].value = "bag"
    second[1].value = 12
    assert len(drawn) == 3 and [o["data"]["text/plain"] for o in out.outputs] == ["figure 3"]
    titles, pixels = _shown(drawn[-1])
    assert titles == ["bag #0", "coat #12"]
    assert torch.equal(pixels, torch.stack([_nth(images, labels, 8, 0)[0], _nth(images, labels, 4, 12)[0]]))


def test_feature_map_explorer_bounds_each_index_by_its_class_count(fashion, drawn):
    pytest.importorskip("ipywidgets")
    _, test_iter = fashion
    keep = test_iter.labels[:400] != 9  # a few hundred examples, with no ankle boot
    images, labels = test_iter.images[:400][keep], test_iter.labels[:400][keep]
    batches = [(images[i:i + 64], labels[i:i + 64]) for i in range(0, len(labels), 64)]
    counts = torch.bincount(labels, minlength=10).tolist()
    small, large = sorted(range(9), key=counts.__getitem__)[::8]
    panel = d2l.feature_map_explorer(d2l.lenet(), batches, classes=[large], names=NAMES)
    ((kind, index),), out = _parts(panel)
    assert kind.value == NAMES[large] and index.max == counts[large] - 1
    index.value = counts[large] - 1
    kind.value = NAMES[small]  # fewer examples: the index is clamped to the last one, and drawn once
    assert index.max == index.value == counts[small] - 1 and len(drawn) == 3
    assert _shown(drawn[-1])[0] == [f"{NAMES[small]} #{counts[small] - 1}"]
    assert torch.equal(_shown(drawn[-1])[1][0], _nth(images, labels, small, counts[small] - 1)[0])
    kind.value = "ankle boot"
    assert index.max == index.value == 0 and len(drawn) == 3
    assert out.outputs == ({"output_type": "stream", "name": "stderr",
                            "text": "this data has no examples of class 'ankle boot'\n"},)
    assert "image/png" not in panel._repr_mimebundle_()  # a message, no picture: the still is left out


@pytest.mark.slow
def test_feature_map_explorer_shows_a_png(fashion):
    pytest.importorskip("ipywidgets")
    panel = d2l.feature_map_explorer(d2l.lenet(), fashion[1], classes="bag")
    ((kind, _),), out = _parts(panel)
    (output,) = out.outputs
    png = base64.b64decode(output["data"]["image/png"])
    assert output["output_type"] == "display_data" and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert panel._repr_mimebundle_()["image/png"] == output["data"]["image/png"]  # the still a website shows
    kind.value = "sneaker"
    (changed,) = out.outputs
    assert base64.b64decode(changed["data"]["image/png"]) != png
    assert panel._repr_mimebundle_()["image/png"] == changed["data"]["image/png"]


@pytest.mark.parametrize("data, kwargs, error, match", [
    (iter([]), {}, TypeError, "feature_map_explorer reads the data again on each change: pass a loader or a list of batches, not a one-shot "
                              r"iterator \(list_iterator\)"),
    (None, dict(classes=["jumper"]), ValueError, "unknown class 'jumper'"),
    (None, dict(classes=["bag", 12]), ValueError, "class must be a name or a number from 0 to 9, got 12"),
    ([(torch.rand(2, 1, 28, 28), torch.tensor([1, 2]))], {}, ValueError,
     "this data has no examples of class 'coat'"),
])
def test_feature_map_explorer_explains_bad_arguments(fashion, data, kwargs, error, match):
    pytest.importorskip("ipywidgets")
    with pytest.raises(error, match=f"^{match}"):
        d2l.feature_map_explorer(d2l.lenet(), fashion[1] if data is None else data, **kwargs)


def test_feature_maps_include_identity_and_stop_at_pooling():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Identity(), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(2, 3, 3),
                        nn.Flatten(), nn.Linear(3 * 10 * 10, 10))
    X = torch.rand(2, 1, 26, 26)
    maps = d2l.feature_maps(net, X)
    with torch.no_grad():
        expected = [net[:3](X), net[:5](X)]  # conv, identity, relu; then pooling and the last conv alone
    assert len(maps) == 2 and all(torch.equal(m, e) for m, e in zip(maps, expected))


class Holder:
    """Not a TensorBatches, but holding ``images`` and ``labels`` tensors in its own order."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __iter__(self):
        raise AssertionError("read through its tensors, not its batches")


def test_a_loader_holding_images_and_labels_is_read_through_them(random_loaders):
    images, labels, _ = random_loaders
    holder = Holder(images, labels)
    assert d2l.class_counts(holder) == torch.bincount(labels, minlength=10).tolist()
    X, _ = d2l.pick_examples(holder, ["coat"], [3])
    assert torch.equal(X[0], _nth(images, labels, 4, 3))


@pytest.mark.parametrize("cls", [-1, 10, 2.0])
def test_class_numbers_outside_the_names_are_refused(random_loaders, cls):
    with pytest.raises(ValueError, match=rf"^class must be a name or a number from 0 to 9, got {re.escape(repr(cls))}$"):
        d2l.pick_examples(random_loaders[2]["list"], [cls])


@pytest.mark.parametrize("bad", [True, 2.0, -3])
def test_class_counts_needs_a_positive_int(bad):
    with pytest.raises(ValueError, match=rf"^num_classes must be a positive int, got {re.escape(repr(bad))}$"):
        d2l.class_counts([], bad)
    assert d2l.class_counts([], 1) == [0]


class NoFloatCopy(d2l.TensorBatches):
    """A course loader that fails if the whole float copy of its images is made (188 MB for Fashion-MNIST)."""

    @property
    def images(self):
        raise AssertionError("read stored_images instead")


def test_the_course_loaders_are_read_without_a_float_copy(random_loaders):
    images, labels, _ = random_loaders
    pixels = (images * 255).round().to(torch.uint8)
    loader = NoFloatCopy(pixels, labels, 64)
    assert d2l.class_counts(loader) == torch.bincount(labels, minlength=10).tolist()
    X, _ = d2l.pick_examples(loader, ["coat"], [1])
    assert torch.equal(X[0], _nth(pixels, labels, 4, 1).float() / 255)


def test_feature_map_explorer_uses_the_class_names_it_is_given(random_loaders, drawn):
    pytest.importorskip("ipywidgets")
    images, labels = random_loaders[0], random_loaders[1]
    digits = [str(k) for k in range(10)]
    panel = d2l.feature_map_explorer(d2l.lenet(), [(images, labels)], classes=["3"], names=digits)
    ((kind, index),), _ = _parts(panel)
    assert list(kind.options) == digits and kind.value == "3"
    assert index.max == int((labels == 3).sum()) - 1
    assert _shown(drawn[-1])[0] == ["3 #0"]


def test_six_inputs_are_drawn_in_grey_under_a_small_title():
    fig = d2l.plot_feature_maps(d2l.lenet(), torch.rand(6, 1, 28, 28))  # the most it draws at once
    inputs = fig.subfigs[0]
    assert len(inputs.axes) == 6 and all(ax.images[0].get_cmap().name == "gray" for ax in inputs.axes)
    assert inputs._suptitle.get_text() == "input" and inputs._suptitle.get_fontsize() == 10


def test_a_block_that_ends_the_net_ends_with_its_activation():
    torch.manual_seed(0)
    net, X = nn.Sequential(nn.Conv2d(1, 2, kernel_size=3), nn.ReLU()), torch.randn(1, 1, 6, 6)
    (maps,) = d2l.feature_maps(net, X)
    assert torch.equal(maps, net(X).detach()) and maps.min() == 0


# --- plot_filters --------------------------------------------------------------------------------------

def test_plot_filters_draws_each_filter_on_one_shared_scale():
    weight = torch.zeros(3, 1, 5, 5)
    weight[0, 0, 2, 2], weight[1, 0, 0, 0], weight[2, 0, 4, 4] = 0.5, -2.0, 1.0
    fig = d2l.plot_filters(weight)
    filters = [ax for ax in fig.axes if ax.get_title().startswith("filter")]
    assert [ax.get_title() for ax in filters] == ["filter 0", "filter 1", "filter 2"]
    for k, ax in enumerate(filters):
        image = ax.get_images()[0]
        assert image.get_clim() == (-2.0, 2.0)  # the largest magnitude, both ways
        assert torch.equal(torch.as_tensor(image.get_array().data), weight[k, 0])
    assert [ax.get_ylabel() for ax in fig.axes if ax not in filters] == ["weight"]  # the colour bar
    assert fig._suptitle.get_text() == "the first layer's filters"


def test_plot_filters_refuses_what_is_not_a_first_layer_weight():
    with pytest.raises(ValueError, match=r"^need the weight of a convolution with one input channel, shape "
                                         r"\(out, 1, k, k\); got \(16, 6, 5, 5\)$"):
        d2l.plot_filters(torch.zeros(16, 6, 5, 5))
    with pytest.raises(ValueError, match=r"got list$"):
        d2l.plot_filters([[0.0]])
