"""Error analysis: the confusion matrix, the most confused pairs and the misclassified examples, checked by hand."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import d2l_local as d2l


class Fixed(nn.Module):
    """A 'network' that predicts a fixed class for each example, read from the image's first pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, X):
        return nn.functional.one_hot(X[:, 0, 0, 0].long(), 3).float() + 0 * self.dummy


def batches(truth, predicted, batch_size=2):
    """Images whose first pixel is the class the Fixed net will predict, with the true labels."""
    X = torch.zeros(len(truth), 1, 2, 2)
    X[:, 0, 0, 0] = torch.tensor(predicted, dtype=torch.float32)
    X[:, 0, 1, 1] = torch.arange(len(truth), dtype=torch.float32)  # tells the examples apart
    y = torch.tensor(truth)
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(truth), batch_size)]


TRUTH = [0, 0, 1, 1, 1, 2, 2, 2, 2]
PREDICTED = [0, 1, 1, 1, 2, 2, 0, 0, 2]


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    expected = torch.zeros(3, 3, dtype=torch.int64)
    for t, p in zip(TRUTH, PREDICTED):
        expected[t, p] += 1
    assert torch.equal(d2l.confusion_matrix(Fixed(), batches(TRUTH, PREDICTED), num_classes=3), expected)


def test_confusion_matrix_refuses_a_label_out_of_range():
    with pytest.raises(ValueError, match="labels must be 0-2, got a label of 3"):
        d2l.confusion_matrix(Fixed(), batches([3], [0]), num_classes=3)


def test_most_confused_lists_the_largest_off_diagonal_counts():
    matrix = d2l.confusion_matrix(Fixed(), batches(TRUTH, PREDICTED), num_classes=3)
    assert d2l.most_confused(matrix, ["a", "b", "c"], k=3).splitlines() == [
        "c -> a: 2 (50.0% of the c images)",
        "a -> b: 1 (50.0% of the a images)",
        "b -> c: 1 (33.3% of the b images)",
    ]
    with pytest.raises(ValueError, match=r"one row per name; got shape \(3, 3\) for 2 names"):
        d2l.most_confused(matrix, ["a", "b"])


@pytest.mark.parametrize("training", [True, False])
def test_misclassified_returns_the_first_wrong_examples_and_restores_the_mode(training):
    net = Fixed().train(training)
    X, titles = d2l.misclassified(net, batches(TRUTH, PREDICTED), ["a", "b", "c"], n=2)
    wrong = [i for i, (t, p) in enumerate(zip(TRUTH, PREDICTED)) if t != p][:2]  # examples 1 and 4
    assert X[:, 0, 1, 1].tolist() == [float(i) for i in wrong]
    assert titles == ["b\n(a)", "c\n(b)"]
    assert net.training is training


def test_misclassified_says_when_nothing_is_wrong():
    with pytest.raises(ValueError, match="^the net classifies every example correctly: nothing to show$"):
        d2l.misclassified(Fixed(), batches([0, 1], [0, 1]), ["a", "b", "c"])


def test_plot_confusion_matrix_shows_every_count_with_labelled_axes():
    matrix = d2l.confusion_matrix(Fixed(), batches(TRUTH, PREDICTED), num_classes=3)
    fig = d2l.plot_confusion_matrix(matrix, ["a", "b", "c"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert texts == {(i, j): str(int(matrix[i, j])) for i in range(3) for j in range(3)}


@pytest.mark.parametrize("training", [True, False])
def test_confusion_matrix_predicts_in_eval_mode_without_gradients_and_restores_the_mode(training):
    seen = []
    net = Fixed().train(training)
    net.register_forward_hook(lambda module, inputs, out: seen.append((module.training, torch.is_grad_enabled())))
    d2l.confusion_matrix(net, batches(TRUTH, PREDICTED), num_classes=3)
    assert seen == [(False, False)] * 5 and net.training is training


def test_confusion_matrix_refuses_a_negative_label_and_takes_the_last_class():
    with pytest.raises(ValueError, match=r"^labels must be 0-2, got a label of "):
        d2l.confusion_matrix(Fixed(), batches([-1, 0], [0, 0]), num_classes=3)
    matrix = d2l.confusion_matrix(Fixed(), batches([2, 2], [2, 1]) + [(torch.zeros(0, 1, 2, 2), torch.zeros(0).long())],
                                  num_classes=3)
    assert matrix.tolist() == [[0, 0, 0], [0, 0, 0], [0, 1, 1]] and matrix.dtype == torch.int64


def test_most_confused_takes_k_pairs_and_guards_an_empty_row():
    matrix = torch.tensor([[0, 3, 1], [0, 0, 0], [2, 0, 5]])
    assert d2l.most_confused(matrix, ["a", "b", "c"]).splitlines() == [
        "a -> b: 3 (75.0% of the a images)", "c -> a: 2 (28.6% of the c images)", "a -> c: 1 (25.0% of the a images)",
        "b -> a: 0 (0.0% of the b images)", "b -> c: 0 (0.0% of the b images)"]  # ties in reading order
    assert d2l.most_confused(matrix, ["a", "b", "c"], k=1) == "a -> b: 3 (75.0% of the a images)"
    with pytest.raises(ValueError, match=r"got shape \(2, 3\) for 2 names"):
        d2l.most_confused(matrix[:2], ["a", "b"])
    with pytest.raises(ValueError, match=r"got shape \(3,\) for 3 names"):
        d2l.most_confused(matrix[0], ["a", "b", "c"])


def test_misclassified_returns_all_it_finds_when_fewer_than_n():
    X, titles = d2l.misclassified(Fixed(), batches(TRUTH, PREDICTED, batch_size=4), ["a", "b", "c"], n=10)
    wrong = [i for i, (t, p) in enumerate(zip(TRUTH, PREDICTED)) if t != p]
    assert X[:, 0, 1, 1].tolist() == [float(i) for i in wrong] and len(titles) == 4
    assert titles[2:] == ["a\n(c)", "a\n(c)"]


@pytest.mark.parametrize("training", [True, False])
def test_misclassified_restores_the_mode_when_stopping_early(training):
    net = Fixed().train(training)
    d2l.misclassified(net, batches(TRUTH, PREDICTED), ["a", "b", "c"], n=1)
    assert net.training is training


def test_plot_confusion_matrix_writes_large_counts_in_white():
    matrix = torch.tensor([[10, 5], [6, 0]])
    fig = d2l.plot_confusion_matrix(matrix, ["a", "b"])
    colours = {t.get_text(): t.get_color() for t in fig.axes[0].texts}
    assert colours == {"10": "white", "5": "black", "6": "white", "0": "black"}  # white above half the largest
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]
    assert fig.axes[1].get_ylabel() == "test images"


class OnAnotherDevice(nn.Module):
    """A net whose parameters live on torch's shape-only 'meta' device (as on a GPU); it records where its input is."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, device="meta"))
        self.seen: list[str] = []

    def forward(self, X):
        self.seen.append(X.device.type)
        return torch.zeros(len(X), 3)


def test_batches_go_to_the_nets_device():
    net = OnAnotherDevice()
    d2l.confusion_matrix(net, batches([0, 1, 2], [0, 1, 2]), num_classes=3)
    assert net.seen == ["meta", "meta"]


def test_the_matrix_is_drawn_in_blues():
    fig = d2l.plot_confusion_matrix(torch.tensor([[1, 0], [0, 1]]), ["a", "b"])
    assert fig.axes[0].images[0].get_cmap().name == "Blues"


def test_by_default_ten_classes_are_counted_and_eight_mistakes_shown():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 10))
    with torch.no_grad():
        net[1].weight.zero_()
        net[1].bias.copy_(torch.eye(10)[0])  # always class 0
    X, y = torch.rand(20, 1, 2, 2), torch.arange(20) % 9 + 1  # never class 0: every prediction is wrong
    data = [(X[:10], y[:10]), (X[10:], y[10:])]
    matrix = d2l.confusion_matrix(net, data)
    assert matrix.shape == (10, 10) and matrix[:, 0].sum() == 20
    images, titles = d2l.misclassified(net, data, [str(k) for k in range(10)])
    assert len(images) == len(titles) == 8 and titles[0] == "0\n(1)"
