"""lenet_variant builds the networks it is asked for, counted by hand from the layer sizes; num_params counts them."""
import pytest
import torch
from torch import nn

import d2l_local as d2l


def conv(c_in, c_out, k, bias=True):
    return c_in * c_out * k * k + (c_out if bias else 0)


def linear(n_in, n_out):
    return n_in * n_out + n_out


def test_defaults_rebuild_the_chapter_lenet():
    variant, chapter = d2l.lenet_variant(), d2l.lenet()
    assert repr(variant) == repr(chapter)
    assert [p.shape for p in variant.parameters()] == [p.shape for p in chapter.parameters()]
    by_hand = conv(1, 6, 5) + conv(6, 16, 5) + linear(16 * 5 * 5, 120) + linear(120, 84) + linear(84, 10)
    assert by_hand == 61_706 and d2l.num_params(variant) == 61_706


@pytest.mark.parametrize("kwargs, by_hand, last_map", [
    # 28 -(pad 2)-> 28 -pool-> 14 -(no pad)-> 10 -pool-> 5; batch norm: conv without bias, 2 params per channel
    (dict(channels=(16, 32), activation="relu", pooling="max", dense=(96,), batch_norm=True),
     conv(1, 16, 5, False) + 2 * 16 + conv(16, 32, 5, False) + 2 * 32 + linear(32 * 5 * 5, 96) + linear(96, 10),
     (32, 5, 5)),
    # k3: 28 -> 14 -> (14-2)/2 = 6 -> (6-2)/2 = 2; no hidden dense layer
    (dict(channels=(8, 16, 32), kernel_size=3, activation="gelu", dense=()),
     conv(1, 8, 3) + conv(8, 16, 3) + conv(16, 32, 3) + linear(32 * 2 * 2, 10), (32, 2, 2)),
    # same padding: 28 -> 14 -> 7 -> 3
    (dict(channels=(8, 16, 32), kernel_size=5, same_padding=True, dense=(64, 32), activation="tanh"),
     conv(1, 8, 5) + conv(8, 16, 5) + conv(16, 32, 5) + linear(32 * 3 * 3, 64) + linear(64, 32) + linear(32, 10),
     (32, 3, 3)),
    # one block, k7 with padding 3: 28 -> 14
    (dict(channels=(4,), kernel_size=7, activation="leaky_relu", num_classes=3),
     conv(1, 4, 7) + linear(4 * 14 * 14, 120) + linear(120, 84) + linear(84, 3), (4, 14, 14)),
])
def test_variant_sizes_match_a_count_by_hand(kwargs, by_hand, last_map):
    net = d2l.lenet_variant(**kwargs)
    assert d2l.num_params(net) == by_hand
    X = torch.rand(2, 1, 28, 28)
    flatten = [i for i, m in enumerate(net) if isinstance(m, nn.Flatten)][0]
    assert tuple(net[:flatten](X).shape[1:]) == last_map
    assert net(X).shape == (2, kwargs.get("num_classes", 10))


def test_variant_uses_the_chosen_layers():
    net = d2l.lenet_variant(channels=(6, 16, 32), kernel_size=3, activation="gelu", pooling="max",
                            batch_norm=True)
    assert [type(m) for m in net[:4]] == [nn.Conv2d, nn.BatchNorm2d, nn.GELU, nn.MaxPool2d]
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert [c.padding for c in convs] == [(1, 1), (0, 0), (0, 0)]
    assert all(c.bias is None for c in convs)
    assert sum(isinstance(m, nn.GELU) for m in net) == 3 + 2  # after each conv block and each hidden dense layer
    assert set(d2l.ACTIVATIONS) == {"sigmoid", "tanh", "relu", "leaky_relu", "gelu"}
    assert d2l.POOLING == {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}


def test_image_size_sets_the_first_dense_layer():
    net = d2l.lenet_variant(image_size=32)  # 32 -> 16 -> 12 -> 6
    assert net[7].in_features == 16 * 6 * 6
    assert net(torch.rand(1, 1, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(activation="swish"), r"activation must be one of sigmoid, tanh, relu, leaky_relu, gelu, got 'swish'"),
    (dict(pooling="min"), r"pooling must be 'avg' or 'max', got 'min'"),
    (dict(kernel_size=4), r"kernel_size must be an odd positive int \(3, 5, 7, \.\.\.\), got 4"),
    (dict(kernel_size=True), r"kernel_size must be an odd positive int .* got True"),
    (dict(channels=()), r"need at least one convolution layer \(channels must not be empty\)"),
    (dict(channels=(6, 0)), r"channels must be a list of positive ints, got \[6, 0\]"),
    (dict(channels=(6, True)), r"channels must be a list of positive ints, got \[6, True\]"),
    (dict(dense=(120, 8.5)), r"dense must be a list of positive ints, got \[120, 8.5\]"),
    (dict(channels=(6, 16, 32), kernel_size=5),
     r"with 3 convolution layers of kernel size 5 the feature maps shrink to nothing at layer 3; use fewer "
     r"layers, a smaller kernel or same_padding=True"),
])
def test_variant_explains_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=f"^{match}$"):
        d2l.lenet_variant(**kwargs)


def test_num_params_counts_only_trainable_parameters():
    net = d2l.lenet_variant()
    net[0].weight.requires_grad_(False)  # 6 * 1 * 5 * 5 frozen
    assert d2l.num_params(net) == 61_706 - 150
    assert d2l.num_params(nn.Sequential()) == 0


def test_feature_maps_of_one_pixel_are_allowed_and_of_none_refused():
    net = d2l.lenet_variant(channels=(4, 4), image_size=12)  # 12 -> (12 + 4 - 4) // 2 = 6 -> (6 - 4) // 2 = 1
    assert net[7].in_features == 4 and net(torch.rand(2, 1, 12, 12)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"feature maps shrink to nothing at layer 3"):
        d2l.lenet_variant(channels=(4, 4, 4), image_size=12)


def test_kernel_size_one_is_the_smallest_odd_size():
    net = d2l.lenet_variant(kernel_size=1)  # 28 -> 14 -> 7
    assert [m.padding for m in net if isinstance(m, nn.Conv2d)] == [(0, 0), (0, 0)]
    assert net[7].in_features == 16 * 7 * 7
    for bad in (0, -1, 2.0, "5"):
        with pytest.raises(ValueError, match=r"^kernel_size must be an odd positive int"):
            d2l.lenet_variant(kernel_size=bad)


def test_layers_in_order_without_batch_norm():
    net = d2l.lenet_variant(channels=(3,), dense=(7,), activation="relu", pooling="max", num_classes=4)
    assert [type(m) for m in net] == [nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear, nn.ReLU, nn.Linear]
    conv, pool, first, last = net[0], net[2], net[4], net[6]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.bias is not None) == (1, 3, (5, 5), True)
    assert (pool.kernel_size, pool.stride) == (2, 2)
    assert (first.in_features, first.out_features, last.in_features, last.out_features) == (3 * 14 * 14, 7, 7, 4)
    with pytest.raises(ValueError, match=r"^dense must be a list of positive ints, got \[0\]$"):
        d2l.lenet_variant(dense=(0,))
