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

from ..messages import say
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
        return say("a_class", name=value.__name__)
    if callable(value) and hasattr(value, "__name__") and not isinstance(value, nn.Module):
        return say("a_function", name=value.__name__)
    if isinstance(value, torch.Tensor):
        return say("a_tensor", shape=tuple(value.shape))
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
        message = say("undefined", missing=missing)
    except Exception as error:  # an answer that crashes is a wrong answer, reported as such
        message = say("raised", error=type(error).__name__, detail=error)
    else:
        print(say("right", question=question))
        return
    print(say("not_yet", question=question, message=message))
    if os.environ.get(GRADER_ENV):
        raise AssertionError(f"Question {question}: {message}")


def check_output_shape(net: nn.Module, expected: Sequence[int], input_shape: Sequence[int] = (1, 1, 28, 28)) -> None:
    """The net maps a batch of zeros of ``input_shape`` to ``expected``; the message names both shapes.

    The net runs in eval mode, so that the check leaves batch-norm statistics as they were.
    """
    require(isinstance(net, nn.Module), say("not_a_module", got=described(net)))
    try:
        with evaluating(net):
            shape = tuple(net(torch.zeros(*input_shape)).shape)
    except RuntimeError as error:
        raise CheckFailed(say("bad_input", shape=tuple(input_shape), error=str(error).splitlines()[0])) from error
    require(shape == tuple(expected), say("bad_output", shape=shape, input_shape=tuple(input_shape),
                                          classes=expected[-1], expected=tuple(expected)))


def check_pooling(net: nn.Sequential, kind: type[nn.Module], count: int, kernel_size: int, stride: int) -> None:
    """``net`` pools exactly ``count`` times, each time with a ``kind`` layer of the given window and stride."""
    require(isinstance(net, nn.Sequential), say("not_sequential", got=described(net)))
    pools = [(i, layer) for i, layer in enumerate(net) if type(layer).__module__ == nn.MaxPool2d.__module__]
    for i, layer in pools:
        require(isinstance(layer, kind), say("wrong_pooling", index=i, found=type(layer).__name__,
                                             wanted=kind.__name__))
        require(layer.kernel_size in (kernel_size, (kernel_size, kernel_size))
                and layer.stride in (stride, (stride, stride)),
                say("pooling_window", index=i, kernel=layer.kernel_size, stride=layer.stride,
                    wanted_kernel=kernel_size, wanted_stride=stride))
    require(len(pools) == count, say("pooling_count", count=len(pools), wanted=count))


def check_same_size(net: nn.Module, reference: nn.Module, why: str) -> None:
    """``net`` has as many parameters as ``reference``; ``why`` says why they must match."""
    mine, theirs = num_params(net), num_params(reference)
    require(mine == theirs, say("same_size", mine=mine, theirs=theirs, why=why))


def check_budget(net: nn.Module, max_params: int, num_classes: int = 10,
                 input_shape: Sequence[int] = (2, 1, 28, 28)) -> None:
    """``net`` has at most ``max_params`` parameters and maps ``input_shape`` to one score per class."""
    check_output_shape(net, (input_shape[0], num_classes), input_shape)
    count = num_params(net)
    require(count <= max_params, say("over_budget", count=count, budget=max_params))


def check_rebuildable(net: nn.Module) -> None:
    """``net`` is an ``nn.Sequential`` of ``torch.nn`` layers, which the grader rebuilds, weights and all, from data."""
    try:
        rebuild_net(describe_net(net), net.state_dict())
    except AnswerError as error:
        raise CheckFailed(str(error)) from None  # the grader's reason, in the student's language


def check_recipe(recipe: object) -> None:
    """``recipe`` is a ``d2l.Recipe``."""
    require(isinstance(recipe, Recipe), say("not_a_recipe", got=described(recipe)))


def check_accuracy(history: object, num_epochs: int, at_least: float) -> None:
    """``history`` is a finished run of ``num_epochs`` epochs that ends with a test accuracy of ``at_least``."""
    check_history(history, num_epochs)
    final = history.test_acc[-1]
    require(final >= at_least, say("too_inaccurate", final=final, goal=at_least))


def check_history(history: object, num_epochs: int) -> None:
    """``history`` is a finished training run of ``num_epochs`` epochs."""
    require(isinstance(history, TrainHistory), say("not_a_history", got=described(history)))
    require(history.status == "finished", say("not_finished", status=history.status))
    require(history.num_epochs == num_epochs and len(history.test_acc) == num_epochs,
            say("wrong_epochs", trained=len(history.test_acc), wanted=num_epochs))


def check_examples(X: torch.Tensor, data_iter: object, classes: Sequence[str]) -> None:
    """``X`` holds the first test example of each of ``classes``, in that order."""
    require(isinstance(X, torch.Tensor), say("not_images", got=described(X)))
    expected, _ = pick_examples(data_iter, list(classes))
    require(tuple(X.shape) == tuple(expected.shape),
            say("examples_shape", shape=tuple(X.shape), classes=say("list_separator").join(classes),
                expected=tuple(expected.shape)))
    for k, name in enumerate(classes):
        require(torch.equal(X[k].cpu(), expected[k].cpu()), say("wrong_example", index=k, name=name))


def check_block_maps(maps: object, net: nn.Sequential, X: torch.Tensor, block_end: int, block: int) -> None:
    """``maps`` is what ``net[:block_end]`` outputs for ``X`` (convolution block number ``block``).

    If another layer's output matches, the message says which.
    """
    name = say("block", number=block)
    require(isinstance(maps, torch.Tensor), say("maps_not_tensor", block=name, got=described(maps)))
    outputs, out = [], X
    with evaluating(net):  # as d2l.feature_maps computes them
        for layer in net:  # each layer's output once, not every prefix of the net again
            out = layer(out)
            outputs.append(out)
    if maps.shape == outputs[block_end - 1].shape and torch.allclose(maps.cpu(), outputs[block_end - 1].cpu(),
                                                                      atol=1e-5):
        return
    end, end_kind = block_end - 1, type(net[block_end - 1]).__name__
    for k, output in enumerate(outputs, start=1):
        if maps.shape == output.shape and torch.allclose(maps.cpu(), output.cpu(), atol=1e-5):
            raise CheckFailed(say("maps_of_layer", block=name, layer=k - 1, kind=type(net[k - 1]).__name__,
                                  end=end, end_kind=end_kind))
    raise CheckFailed(say("maps_of_nothing", block=name, shape=tuple(maps.shape), end=end, end_kind=end_kind,
                          end_shape=tuple(outputs[block_end - 1].shape)))
