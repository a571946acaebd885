"""Public checks for the exercises: say plainly what is right or wrong, and fail only under the grader.

A public check cell of an exercise calls ``check_answer(question, check)``, where ``check``
is a function without arguments (a ``lambda``, so that a name the student has not defined
yet is looked up only inside it) that raises ``CheckFailed`` with a message naming what is
wrong. ``check_answer`` prints ``Question N: right.`` or ``Question N: not yet: <message>``.

In a student's own run a failed check only prints, so the student notebook runs top to
bottom while its answers are empty. Under nbgrader's autograder, which sets the
environment variable ``NBGRADER_EXECUTION``, a failed check raises ``AssertionError`` with
the same message: nbgrader then gives the cell no points and shows the message in the
feedback. The helpers below test properties that the questions state; none holds an answer.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .feature_maps import pick_examples
from .grading import AnswerError, describe_net, rebuild_net
from .recipes import Recipe
from ..metrics import evaluating
from ..training import TrainHistory
from .variants import num_params

GRADER_ENV = "NBGRADER_EXECUTION"  # set by nbgrader while it autogrades or validates a notebook


class CheckFailed(Exception):
    """An answer does not do what its question asks; the message says what differs."""


def require(condition: bool, message: str) -> None:
    """Raise ``CheckFailed(message)`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def described(value: object) -> str:
    """What ``value`` is, for a message: a class or a function is named, with the hint to call it."""
    if isinstance(value, type):
        return f"the class {value.__name__} itself (call it to make one)"
    if callable(value) and hasattr(value, "__name__") and not isinstance(value, nn.Module):
        return f"the function {value.__name__} (call it to get its result)"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def check_answer(question: str, check: Callable[[], object]) -> None:
    """Run ``check`` and print the verdict on ``question``; under the grader, a failure raises.

    It returns nothing, so that a check cell shows only the verdict.

    A ``NameError`` means the answer cell has not been run (or names the result
    differently); any other exception is an answer that crashes, and is reported with its type.
    """
    try:
        check()
    except CheckFailed as failure:
        message = str(failure)
    except NameError as missing:
        message = f"{missing}: write your answer in the cell above and run it, then run this check again."
    except Exception as error:  # an answer that crashes is a wrong answer, reported as such
        message = f"running your answer raised {type(error).__name__}: {error}"
    else:
        print(f"Question {question}: right.")
        return
    print(f"Question {question}: not yet: {message}")
    if os.environ.get(GRADER_ENV):
        raise AssertionError(f"Question {question}: {message}")


def check_output_shape(net: nn.Module, expected: Sequence[int], input_shape: Sequence[int] = (1, 1, 28, 28)) -> None:
    """The net maps a batch of zeros of ``input_shape`` to ``expected``; the message names both shapes.

    The net runs in eval mode, so that the check leaves batch-norm statistics as they were.
    """
    require(isinstance(net, nn.Module), f"expected a torch network (nn.Module), got {described(net)}")
    try:
        with evaluating(net):
            shape = tuple(net(torch.zeros(*input_shape)).shape)
    except RuntimeError as error:
        raise CheckFailed(f"your net cannot take an input of shape {tuple(input_shape)}: {str(error).splitlines()[0]}. "
                          f"Print each layer's output shape, as the chapter does, to find the layer that "
                          f"does not fit") from error
    require(shape == tuple(expected), f"your net outputs {shape} for an input of shape {tuple(input_shape)}; "
                                      f"{expected[-1]} classes need {tuple(expected)}")


def check_pooling(net: nn.Sequential, kind: type[nn.Module], count: int, kernel_size: int, stride: int) -> None:
    """``net`` pools exactly ``count`` times, each time with a ``kind`` layer of the given window and stride."""
    require(isinstance(net, nn.Sequential), f"expected an nn.Sequential, got {described(net)}")
    pools = [(i, layer) for i, layer in enumerate(net) if type(layer).__module__ == nn.MaxPool2d.__module__]
    for i, layer in pools:
        require(isinstance(layer, kind), f"layer {i} of your net is still nn.{type(layer).__name__}; "
                                         f"replace every pooling layer by nn.{kind.__name__}")
        require(layer.kernel_size in (kernel_size, (kernel_size, kernel_size))
                and layer.stride in (stride, (stride, stride)),
                f"layer {i} pools with kernel_size={layer.kernel_size}, stride={layer.stride}; "
                f"the question asks for kernel_size={kernel_size}, stride={stride}")
    require(len(pools) == count, f"your net has {len(pools)} pooling layer(s); it needs {count}")


def check_same_size(net: nn.Module, reference: nn.Module, why: str) -> None:
    """``net`` has as many parameters as ``reference``; ``why`` says why they must match."""
    mine, theirs = num_params(net), num_params(reference)
    require(mine == theirs, f"your net has {mine:,} parameters and the reference {theirs:,}; {why}")


def check_budget(net: nn.Module, max_params: int, num_classes: int = 10,
                 input_shape: Sequence[int] = (2, 1, 28, 28)) -> None:
    """``net`` has at most ``max_params`` parameters and maps ``input_shape`` to one score per class."""
    check_output_shape(net, (input_shape[0], num_classes), input_shape)
    count = num_params(net)
    require(count <= max_params, f"your net has {count:,} parameters; the budget is at most {max_params:,}")


def check_rebuildable(net: nn.Module) -> None:
    """``net`` is an ``nn.Sequential`` of ``torch.nn`` layers, which the grader rebuilds, weights and all, from data."""
    try:
        rebuild_net(describe_net(net), net.state_dict())
    except AnswerError as error:
        raise CheckFailed(str(error)) from None


def check_recipe(recipe: object) -> None:
    """``recipe`` is a ``d2l.Recipe``."""
    require(isinstance(recipe, Recipe), f"recipe should be a d2l.Recipe, got {described(recipe)}")


def check_accuracy(history: object, num_epochs: int, at_least: float) -> None:
    """``history`` is a finished run of ``num_epochs`` epochs that ends with a test accuracy of ``at_least``."""
    check_history(history, num_epochs)
    final = history.test_acc[-1]
    require(final >= at_least, f"your net ends at {final:.4f} test accuracy; the question asks for at least "
                               f"{at_least:.2f}")


def check_history(history: object, num_epochs: int) -> None:
    """``history`` is a finished training run of ``num_epochs`` epochs."""
    require(isinstance(history, TrainHistory), f"expected the TrainHistory that train_ch6 returns, "
                                               f"got {described(history)}")
    require(history.status == "finished", f"the training run did not finish (status {history.status!r}); "
                                          f"run it again to the end")
    require(history.num_epochs == num_epochs and len(history.test_acc) == num_epochs,
            f"the run trained {len(history.test_acc)} epoch(s); the question asks for {num_epochs}")


def check_examples(X: torch.Tensor, data_iter: object, classes: Sequence[str]) -> None:
    """``X`` holds the first test example of each of ``classes``, in that order."""
    require(isinstance(X, torch.Tensor), f"X should be a tensor of images, got {described(X)}")
    expected, _ = pick_examples(data_iter, list(classes))
    require(tuple(X.shape) == tuple(expected.shape), f"X has shape {tuple(X.shape)}; one image for each of "
                                                     f"{', '.join(classes)} has shape {tuple(expected.shape)}")
    for k, name in enumerate(classes):
        require(torch.equal(X[k].cpu(), expected[k].cpu()), f"image {k} of X is not the first {name} of the test set")


def check_block_maps(maps: object, net: nn.Sequential, X: torch.Tensor, block_end: int, block: str) -> None:
    """``maps`` is what ``net[:block_end]`` outputs for ``X``; if another layer's output matches, say which."""
    require(isinstance(maps, torch.Tensor), f"the maps of {block} should be a tensor, got {described(maps)}")
    outputs, out = [], X
    with evaluating(net):  # as d2l.feature_maps computes them
        for layer in net:  # each layer's output once, not every prefix of the net again
            out = layer(out)
            outputs.append(out)
    if maps.shape == outputs[block_end - 1].shape and torch.allclose(maps.cpu(), outputs[block_end - 1].cpu(),
                                                                      atol=1e-5):
        return
    for k, output in enumerate(outputs, start=1):
        if maps.shape == output.shape and torch.allclose(maps.cpu(), output.cpu(), atol=1e-5):
            raise CheckFailed(f"the maps of {block} you give are the output of layer {k - 1} "
                              f"({type(net[k - 1]).__name__}); {block} ends with its activation, "
                              f"the output of layer {block_end - 1} ({type(net[block_end - 1]).__name__})")
    raise CheckFailed(f"the maps of {block} you give (shape {tuple(maps.shape)}) are not the output of any layer "
                      f"of net for X; {block} ends with layer {block_end - 1} "
                      f"({type(net[block_end - 1]).__name__}), shape {tuple(outputs[block_end - 1].shape)}")
