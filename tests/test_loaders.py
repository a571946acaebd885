"""Loader batches: shapes, dtypes, shuffling, resizing and argument checks."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import d2l_local as d2l
from d2l_local import datasets


def test_batches_look_like_the_books(fashion):
    train_iter, test_iter = fashion
    assert len(train_iter) == 235 and len(test_iter) == 40
    X, y = next(iter(train_iter))
    assert X.shape == (256, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (256,) and y.dtype == torch.int64
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0 and float(X.max()) > 0.9
    sizes = [len(y) for _, y in test_iter]
    assert sum(sizes) == 10000 and sizes[-1] == 10000 - 39 * 256


def test_training_order_changes_each_epoch_and_test_order_does_not(fashion):
    train_iter, test_iter = fashion
    first, second = (next(iter(train_iter))[1] for _ in range(2))
    assert not torch.equal(first, second)
    assert torch.equal(next(iter(test_iter))[1], next(iter(test_iter))[1])
    labels = torch.cat([y for _, y in train_iter])
    assert torch.equal(torch.bincount(labels), torch.full((10,), 6000))  # every example once per epoch


def test_seed_fixes_the_order(fashion):
    train_iter, _ = fashion
    d2l.set_seed(3)
    a = next(iter(train_iter))[1]
    d2l.set_seed(3)
    assert torch.equal(a, next(iter(train_iter))[1])


def test_resize_per_batch(data_root):
    _, test_iter = d2l.load_data_fashion_mnist(32, resize=64, root=data_root)
    X, _ = next(iter(test_iter))
    assert X.shape == (32, 1, 64, 64) and X.dtype == torch.float32
    _, test_iter = d2l.load_data_fashion_mnist(8, resize=(32, 24), root=data_root)
    assert next(iter(test_iter))[0].shape == (8, 1, 32, 24)


@pytest.mark.parametrize("bad", [0, -5])
def test_non_positive_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        d2l.load_data_fashion_mnist(bad)


@pytest.mark.parametrize("bad", [2.5, "256", None, True])
def test_non_integer_batch_size(bad):
    with pytest.raises(TypeError, match="batch_size must be a positive integer"):
        d2l.load_data_fashion_mnist(bad)


@pytest.mark.parametrize("bad", ["64", 2.0, (32,), (32, 32, 3), [True, 3]])
def test_resize_of_the_wrong_type(bad):
    with pytest.raises(TypeError, match="resize must be None, an int or a pair of ints"):
        d2l.load_data_fashion_mnist(256, resize=bad)


def test_resize_must_be_positive():
    with pytest.raises(ValueError, match="resize must be positive"):
        d2l.load_data_fashion_mnist(256, resize=(0, 28))


# --- uint8 storage: batches converted as they are cut ---------------------------------------------

def _batches(loader, seed=0):
    d2l.set_seed(seed)
    return list(loader)


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for (Xa, ya), (Xb, yb) in zip(a, b):
        assert Xa.dtype == Xb.dtype == torch.float32 and ya.dtype == yb.dtype == torch.int64
        assert torch.equal(Xa, Xb) and torch.equal(ya, yb)


def test_loaders_keep_the_cached_uint8_pixels_without_a_copy(data_root):
    train_iter, test_iter = d2l.load_data_fashion_mnist(256, root=data_root)  # not the fixture: other tests clear the cache
    for loader, train, n in ((train_iter, True, 60000), (test_iter, False, 10000)):
        pixels, labels = datasets.load_split_tensors(datasets.FASHION_MNIST, train, data_root)
        assert loader.stored_images.dtype == torch.uint8 and loader.stored_images.shape == (n, 1, 28, 28)
        assert loader.stored_images.data_ptr() == pixels.data_ptr()  # one copy of the data per process
        assert loader.labels.data_ptr() == labels.data_ptr()
        assert loader.stored_images.untyped_storage().nbytes() == n * 28 * 28


def test_uint8_batches_equal_the_float_path_bit_for_bit(fashion):
    train_iter, test_iter = fashion
    pixels, labels = train_iter.stored_images[:1000], train_iter.labels[:1000]
    floats = pixels.to(torch.float32).div_(255)  # what the loaders stored before: the whole split converted at once
    for shuffle in (False, True):
        _assert_same_batches(_batches(d2l.TensorBatches(pixels, labels, 96, shuffle=shuffle)),
                             _batches(d2l.TensorBatches(floats, labels, 96, shuffle=shuffle)))
    whole = test_iter.stored_images.to(torch.float32).div_(255)
    assert torch.equal(torch.cat([X for X, _ in test_iter]), whole)
    assert torch.equal(test_iter.images, whole) and test_iter.images.shape == (10000, 1, 28, 28)


def test_uint8_batches_resize_like_the_float_path(fashion):
    _, test_iter = fashion
    pixels, labels = test_iter.stored_images[:64], test_iter.labels[:64]
    floats = pixels.to(torch.float32).div_(255)
    for size in (64, (32, 24)):
        got = _batches(d2l.TensorBatches(pixels, labels, 16, resize=size))
        _assert_same_batches(got, _batches(d2l.TensorBatches(floats, labels, 16, resize=size)))
        assert got[0][0].shape == (16, 1, *((size, size) if isinstance(size, int) else size))


def test_float_images_are_batched_as_given():
    images, labels = torch.rand(10, 1, 4, 4), torch.arange(10)
    loader = d2l.TensorBatches(images, labels, 4)
    assert loader.images is images and loader.stored_images is images
    X, _ = next(iter(loader))
    assert X.data_ptr() == images.data_ptr()  # an unshuffled float batch is a view, not a copy


def test_as_float_images_divides_uint8_by_255_and_leaves_other_types_alone():
    from d2l_local.loaders import as_float_images

    X = as_float_images(torch.tensor([0, 1, 128, 255], dtype=torch.uint8))
    expected = np.array([0, 1, 128, 255], dtype=np.float32) / np.float32(255)  # IEEE float32 division
    assert X.dtype == torch.float32 and np.array_equal(X.numpy(), expected) and X[-1] == 1.0
    for other in (torch.rand(3), torch.arange(3), torch.rand(3, dtype=torch.float64)):
        assert as_float_images(other) is other


def test_device_argument_on_the_cpu(data_root, fashion):
    train_iter, test_iter = d2l.load_data_fashion_mnist(256, root=data_root, device="cpu")
    assert train_iter.stored_images.device.type == "cpu" and train_iter.stored_images.dtype == torch.uint8
    _assert_same_batches(list(test_iter), list(fashion[1]))
    X, y = next(iter(train_iter))
    assert X.device.type == y.device.type == "cpu" and X.dtype == torch.float32


def test_dataset_gives_float_examples_like_the_batches(fashion):
    _, test_iter = fashion
    data = test_iter.dataset
    assert isinstance(data, torch.utils.data.TensorDataset) and len(data) == 10000
    image, label = data[7]
    assert image.dtype == torch.float32 and image.shape == (1, 28, 28)
    assert torch.equal(image, next(iter(test_iter))[0][7]) and label == test_iter.labels[7]
    X, y = next(iter(torch.utils.data.DataLoader(data, batch_size=256)))
    assert torch.equal(X, next(iter(test_iter))[0]) and torch.equal(y, test_iter.labels[:256])


# --- batches against the raw arrays ---------------------------------------------------------------

def _numbered(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images whose two first pixels spell their index, labelled by that index."""
    images = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.arange(n) // 256
    images[:, 0, 0, 1] = torch.arange(n) % 256
    return images, torch.arange(n)


def _index_of(X: torch.Tensor) -> list[int]:
    """The indices spelled by float batch images (pixel values k / 255)."""
    pixels = (X[:, 0, 0, :2] * 255).round().long()
    return (pixels[:, 0] * 256 + pixels[:, 1]).tolist()


def test_shuffled_batches_keep_each_image_with_its_label():
    images, labels = _numbered(1000)
    loader = d2l.TensorBatches(images, labels, 96, shuffle=True)
    orders = []
    for _ in range(2):
        batches = list(loader)
        assert [len(y) for _, y in batches] == [96] * 10 + [40]
        for X, y in batches:
            assert _index_of(X) == y.tolist()  # image k carries label k wherever it lands
            assert torch.equal(X, images[y].float() / 255)
        orders.append(torch.cat([y for _, y in batches]))
        assert sorted(orders[-1].tolist()) == list(range(1000))  # each example once per epoch
    assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[0], labels)


def test_unshuffled_batches_are_the_arrays_in_order():
    images, labels = _numbered(200)
    batches = list(d2l.TensorBatches(images, labels, 64))
    assert [len(y) for _, y in batches] == [64, 64, 64, 8]
    assert torch.cat([y for _, y in batches]).tolist() == list(range(200))
    assert _index_of(torch.cat([X for X, _ in batches])) == list(range(200))


@pytest.mark.parametrize("n, batch_size, batches", [(10, 5, 2), (11, 5, 3), (4, 5, 1), (5, 1, 5)])
def test_the_number_of_batches_rounds_up(n, batch_size, batches):
    loader = d2l.TensorBatches(torch.zeros(n, 1, 2, 2), torch.zeros(n, dtype=torch.int64), batch_size)
    assert len(loader) == batches == len(list(loader))


def test_test_batches_are_the_idx_files_read_by_hand(fashion, data_root):
    """Pixels / 255 and labels straight from the gzip'd IDX bytes (header skipped by hand), in file order."""
    import gzip

    def read(stem: str) -> bytes:
        path = next(data_root.rglob(f"{stem}*"))  # compressed or not
        return (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()

    pixels = np.frombuffer(read("t10k-images-idx3-ubyte")[16:], np.uint8).reshape(-1, 1, 28, 28)
    labels = np.frombuffer(read("t10k-labels-idx1-ubyte")[8:], np.uint8)
    _, test_iter = fashion
    X = torch.cat([X for X, _ in test_iter])
    y = torch.cat([y for _, y in test_iter])
    assert np.array_equal(X.numpy(), pixels.astype(np.float32) / np.float32(255))
    assert np.array_equal(y.numpy(), labels.astype(np.int64))


@pytest.mark.parametrize("size", [14, (20, 12), 40])
def test_resize_is_antialiased_bilinear_interpolation_of_the_images(fashion, size):
    """Down (where antialiasing matters) and up: as torch's own bilinear, antialiased interpolation of the floats."""
    _, test_iter = fashion
    pixels, labels = test_iter.stored_images[:48], test_iter.labels[:48]
    floats = pixels.to(torch.float32) / 255
    hw = (size, size) if isinstance(size, int) else size
    expected = F.interpolate(floats, size=hw, mode="bilinear", antialias=True, align_corners=False)
    got = torch.cat([X for X, _ in d2l.TensorBatches(pixels, labels, 16, resize=size)])
    assert got.shape == (48, 1, *hw)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    other = F.interpolate(floats, size=hw, mode="nearest")  # so the comparison can tell the modes apart
    assert (got - other).abs().max() > 0.05


def test_loaders_resize_both_splits(data_root):
    train_iter, test_iter = d2l.load_data_fashion_mnist(8, resize=(14, 10), root=data_root)
    for loader in (train_iter, test_iter):
        assert loader.resize == (14, 10) and next(iter(loader))[0].shape == (8, 1, 14, 10)
    assert train_iter.shuffle and not test_iter.shuffle
    assert (train_iter.batch_size, test_iter.batch_size) == (8, 8)


@pytest.mark.parametrize("resize, expected", [(None, None), (1, (1, 1)), ((3, 1), (3, 1)), ([5, 7], (5, 7))])
def test_resize_accepts_positive_sizes(resize, expected):
    loader = d2l.TensorBatches(torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.int64), 1, resize=resize)
    assert loader.resize == expected


@pytest.mark.parametrize("bad", [0, (5, 0), (-1, 5)])
def test_resize_refuses_sizes_below_one(bad):
    with pytest.raises(ValueError, match=rf"^resize must be positive, got {re.escape(str(bad if isinstance(bad, tuple) else (bad, bad)))}$"):
        d2l.TensorBatches(torch.zeros(2, 1, 4, 4), torch.zeros(2), 1, resize=bad)


def test_batch_size_one_is_accepted_and_messages_name_the_value():
    assert d2l.TensorBatches(torch.zeros(3, 1, 2, 2), torch.zeros(3), 1).batch_size == 1
    with pytest.raises(ValueError, match=r"^batch_size must be a positive integer, got 0$"):
        d2l.TensorBatches(torch.zeros(3, 1, 2, 2), torch.zeros(3), 0)
    with pytest.raises(TypeError, match=r"^batch_size must be a positive integer, got 2\.5 of type float$"):
        d2l.TensorBatches(torch.zeros(3, 1, 2, 2), torch.zeros(3), 2.5)
    with pytest.raises(TypeError, match=r"^resize must be None, an int or a pair of ints \(height, width\), got "
                                        r"\(2, True\)$"):
        d2l.TensorBatches(torch.zeros(3, 1, 2, 2), torch.zeros(3), 1, resize=(2, True))
    assert d2l.TensorBatches(torch.zeros(3, 1, 2, 2), torch.zeros(3), np.int64(2)).batch_size == 2


def test_mnist_loader_reads_mnist(mnist_root):
    train_iter, test_iter = d2l.load_data_mnist(500, root=mnist_root, resize=14)
    assert (len(train_iter), len(test_iter)) == (120, 20) and train_iter.shuffle and not test_iter.shuffle
    assert test_iter.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert next(iter(test_iter))[0].shape == (500, 1, 14, 14)


def test_both_loaders_honour_root_and_device(isolated):
    """A tiny MNIST and Fashion-MNIST in a folder only ``root`` names; the tensors go to ``device`` (here 'meta')."""
    from conftest import make_dataset

    for name, load in (("MNIST", d2l.load_data_mnist), ("FashionMNIST", d2l.load_data_fashion_mnist)):
        make_dataset(isolated / "mine" / name / "raw", n_train=10, n_test=4)
        train_iter, test_iter = load(4, root=isolated / "mine")
        assert test_iter.labels.tolist() == [0, 1, 2, 3] and len(train_iter) == 3
        train_iter, test_iter = load(4, root=isolated / "mine", device="meta")
        assert train_iter.stored_images.device.type == test_iter.labels.device.type == "meta"
        assert train_iter.stored_images.shape == (10, 1, 28, 28)
