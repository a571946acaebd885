"""Loader batches: shapes, dtypes, shuffling, resizing and argument checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

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
