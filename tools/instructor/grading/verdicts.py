"""The grader's own verdict on each checked question, judged outside the student's kernel.

    python -m tools.instructor.grading.verdicts NOTEBOOK ANSWERS_DIR    # prints {check cell id: {"right", "message"}} as JSON

A graded notebook's check cells export their answers as data (``d2l_local.exercises.grading``); this
process rebuilds them without running any of the student's code and judges them with the
same public checks the student saw, plus what only a fresh process can confirm: a trained
network's accuracy measured again on the real test split, the data set a run used, and that
a run is the one the question's seed and settings produce (the grader trains it again).
It reads ``D2L_MAX_EXAMPLES`` and the data as the graded kernel did.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import d2l_local as d2l
from d2l_local.exercises.checks import CheckFailed, require
from d2l_local.exercises.grading import AnswerError, describe_net, read_answers, rebuild_net

ACCURACY_TOLERANCE = 0.002  # the same weights, measured twice, agree to within float noise
RERUN_TOLERANCE = 1e-5  # the same training on the same CPU repeats to the last bits; another net does not
Answers = dict[str, object]


def answer(answers: Answers, name: str) -> object:
    """The answer ``name``, or a failure that says why the grader has none."""
    value = answers.get(name)
    if isinstance(value, AnswerError):
        raise CheckFailed(str(value))
    if name not in answers:
        raise CheckFailed(f"the grader received no {name}")
    return value


def measured_accuracy(net: nn.Module, test_iter) -> float:
    """``net``'s accuracy on ``test_iter``, measured here."""
    return d2l.evaluate_accuracy_gpu(net, test_iter, d2l.try_gpu())


def rerun(build: Callable[[], nn.Module], load: Callable, lr: float = 0.9, num_epochs: int = 10) -> d2l.TrainHistory:
    """The run the questions ask for: seed 0 right before building the net, then ``train_ch6`` quietly."""
    train_iter, test_iter = load(batch_size=256)
    d2l.set_seed(0)
    net = build()
    with d2l.hidden_animators(), contextlib.redirect_stdout(io.StringIO()):
        return d2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, d2l.try_gpu())


def _last(values: list) -> str:
    return f"{values[-1]:.6f}" if values else "nothing"


def require_same_run(history: d2l.TrainHistory, expected: d2l.TrainHistory, name: str, how: str) -> None:
    """``history`` has the numbers of ``expected``, the run the grader made as the question says."""
    def same(mine: list, theirs: list) -> bool:
        return len(mine) == len(theirs) and all(abs(a - b) <= RERUN_TOLERANCE * max(1.0, abs(b))
                                                for a, b in zip(mine, theirs))

    require(same(history.train_loss, expected.train_loss) and same(history.train_acc, expected.train_acc)
            and same(history.test_acc, expected.test_acc),
            f"{name} is not the run that {how} gives: it ends at training loss {_last(history.train_loss)} and "
            f"test accuracy {_last(history.test_acc)}, the grader's run of it at {_last(expected.train_loss)} "
            f"and {_last(expected.test_acc)}")


# ---- exercise 1 ----

def max_lenet_layers() -> list[dict]:
    """The chapter's layers with each average pooling layer made 2x2 max pooling."""
    return describe_net(nn.Sequential(*[nn.MaxPool2d(2, 2) if isinstance(layer, nn.AvgPool2d) else layer
                                        for layer in d2l.lenet()]))


def _layer(item: dict) -> str:
    args = ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v}" for k, v in item.get("args", {}).items())
    return f"{item['type']}({args})"


def ex1_q1(answers: Answers) -> None:
    net = answer(answers, "net")
    d2l.checks.check_output_shape(net, (1, 10))
    d2l.checks.check_pooling(net, nn.MaxPool2d, count=2, kernel_size=2, stride=2)
    d2l.checks.check_same_size(net, d2l.lenet(), d2l.say("pooling_has_no_parameters"))
    unnamed = [{k: v for k, v in item.items() if k != "name"} for item in describe_net(net)]
    for i, (mine, chapter) in enumerate(zip(unnamed, max_lenet_layers())):
        require(mine == chapter, f"layer {i} of max_lenet() is {_layer(mine)}; the chapter's network has "
                                 f"{_layer(chapter)} there: change only the pooling layers")
    require(len(describe_net(net)) == len(max_lenet_layers()), "max_lenet() should have the chapter's layers")


def ex1_q2(answers: Answers) -> None:
    history, net = answer(answers, "history"), answer(answers, "net")
    d2l.checks.check_history(history, 10)
    expected = rerun(lambda: rebuild_net(describe_net(net)), d2l.load_data_fashion_mnist)
    require_same_run(history, expected, "max_history",
                     "d2l.set_seed(0), then training max_lenet() with the chapter's settings (lr 0.9, 10 epochs, "
                     "batch size 256)")


# ---- exercise 2 ----

def ex2_q1(answers: Answers) -> None:
    net = answer(answers, "net")
    d2l.checks.check_budget(net, max_params=100_000)
    require(any(isinstance(layer, nn.Conv2d) for layer in net.modules()),
            "the question asks for a convolutional network of the LeNet family; net has no nn.Conv2d layer")
    d2l.checks.check_recipe(answer(answers, "recipe"))


def ex2_q2(answers: Answers) -> None:
    net, history, recipe = answer(answers, "net"), answer(answers, "history"), answer(answers, "recipe")
    d2l.checks.check_recipe(recipe)
    d2l.checks.check_history(history, recipe.num_epochs)
    _, test_iter = d2l.load_data_fashion_mnist(batch_size=256)
    accuracy = measured_accuracy(net, test_iter)
    require(abs(accuracy - history.test_acc[-1]) <= ACCURACY_TOLERANCE,
            f"history ends at {history.test_acc[-1]:.4f} test accuracy, but the grader measures your trained net "
            f"at {accuracy:.4f} on the test images: history is not the run that trained net")
    require(accuracy >= 0.91, f"your net ends at {accuracy:.4f} test accuracy; the question asks for at least 0.91")
    saved, saved_recipe = answer(answers, "saved"), answer(answers, "saved_recipe")
    require(describe_net(saved) == describe_net(net) and saved_recipe == recipe,
            'the network saved as ex2 is not the one trained here; save it with d2l.save_network(net, "ex2", recipe)')


# ---- exercise 3 ----

def ex3_q1(answers: Answers) -> None:
    history = answer(answers, "history")
    d2l.checks.check_history(history, 10)
    expected = rerun(d2l.lenet, d2l.load_data_mnist)
    require_same_run(history, expected, "lenet_history",
                     "d2l.set_seed(0), then training d2l.lenet() on MNIST (d2l.load_data_mnist) at lr 0.9 for "
                     "10 epochs")


def ex3_q3(answers: Answers) -> None:
    recipe = answer(answers, "recipe")
    d2l.checks.check_recipe(recipe)
    require(not recipe.augment, "digit_recipe still mirrors the training images (augment=True); would a mirrored "
                                "3 still be a 3?")
    history, net = answer(answers, "history"), answer(answers, "net")
    d2l.checks.check_history(history, recipe.num_epochs)
    _, test_iter = d2l.load_data_mnist(batch_size=256)
    accuracy = measured_accuracy(net, test_iter)
    require(abs(accuracy - history.test_acc[-1]) <= ACCURACY_TOLERANCE,
            f"improved_history ends at {history.test_acc[-1]:.4f} test accuracy, but the grader measures the "
            f"trained net at {accuracy:.4f} on MNIST's test images: train net on MNIST (the train_iter and "
            f"test_iter of d2l.load_data_mnist)")


# ---- exercise 4 ----

def ex4_q1(answers: Answers) -> None:
    net = answer(answers, "net")
    require(describe_net(net) == describe_net(d2l.lenet()), "net should be the chapter's LeNet, trained above")
    X, titles = answer(answers, "X"), answer(answers, "titles")
    _, test_iter = d2l.load_data_fashion_mnist(batch_size=256)
    d2l.checks.check_examples(X, test_iter, ["pullover", "coat"])
    require(isinstance(titles, list) and len(titles) == 2, f"titles should hold one title per image, got {titles!r}")
    d2l.checks.check_block_maps(answer(answers, "block1"), net, X, 2, 1)
    d2l.checks.check_block_maps(answer(answers, "block2"), net, X, 5, 2)


# For each graded notebook: its check cells' ids, each with the question it checks and the verdict on it.
QUESTIONS: dict[str, dict[str, tuple[str, Callable[[Answers], None]]]] = {
    "lenet_ex1_max_pooling": {"ex1-q1-check": ("1", ex1_q1), "ex1-q2-check": ("2", ex1_q2)},
    "lenet_ex2_improve": {"ex2-q1-check": ("1", ex2_q1), "ex2-q2-check": ("2", ex2_q2)},
    "lenet_ex3_mnist": {"ex3-q1-check": ("1", ex3_q1), "ex3-q3-check": ("3", ex3_q3)},
    "lenet_ex4_feature_maps": {"ex4-q1-check": ("1", ex4_q1)},
}


def judge(notebook: str, answers_dir: Path) -> dict[str, dict[str, object]]:
    """Each check cell's verdict: whether its question is right, and the message for the student.

    The messages are in the language of $D2L_LANGUAGE (release.py sets that of the graded assignment).
    """
    verdicts = {}
    for cell_id, (question, verdict) in QUESTIONS[notebook].items():
        try:
            answers = read_answers(answers_dir, question)
            if answers is None:
                raise CheckFailed(d2l.say("no_answer_received"))
            torch.manual_seed(0)  # a verdict never depends on the one judged before it
            verdict(answers)
        except (CheckFailed, AnswerError) as failure:
            verdicts[cell_id] = {"right": False, "message": d2l.say("not_yet", question=question, message=failure)}
        except Exception as error:  # an answer the checks cannot even handle is a wrong answer, said as such
            message = d2l.say("judging_raised", error=type(error).__name__, detail=error)
            verdicts[cell_id] = {"right": False, "message": d2l.say("not_yet", question=question, message=message)}
        else:
            verdicts[cell_id] = {"right": True, "message": d2l.say("right", question=question)}
        verdicts[cell_id]["question"] = question
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", choices=sorted(QUESTIONS), help="the graded notebook's name")
    parser.add_argument("answers", type=Path, help="the folder its check cells exported their answers to")
    args = parser.parse_args(argv)
    json.dump(judge(args.notebook, args.answers), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
