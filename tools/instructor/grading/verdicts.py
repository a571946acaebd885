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
from d2l_local.messages import language

ACCURACY_TOLERANCE = 0.002  # the same weights, measured twice, agree to within float noise
RERUN_TOLERANCE = 1e-5  # the same training on the same CPU repeats to the last bits; another net does not
Answers = dict[str, object]

# What only the grader says, in the graded notebook's language; the checks' messages are in d2l_local/messages.py.
NOTES: dict[str, dict[str, str]] = {
    "received_no": {"en": "the grader received no {name}", "zh": "评分程序没有收到 {name}"},
    "nothing": {"en": "nothing", "zh": "无"},
    "not_the_run": {"en": "{name} is not the run that {how} gives: it ends at training loss {loss} and test accuracy "
                          "{accuracy}, the grader's run of it at {their_loss} and {their_accuracy}",
                    "zh": "{name} 不是按以下步骤训练得到的：{how}。它最终的训练损失为 {loss}、测试精度为 {accuracy}，"
                          "而评分程序按这些步骤训练的结果为 {their_loss} 和 {their_accuracy}"},
    "ex1_run": {"en": "d2l.set_seed(0), then training max_lenet() with the chapter's settings (lr 0.9, 10 epochs, "
                      "batch size 256)",
                "zh": "先运行 d2l.set_seed(0)，再按正文的设置（学习率 0.9，10 轮，批量大小 256）训练 max_lenet()"},
    "ex3_run": {"en": "d2l.set_seed(0), then training d2l.lenet() on MNIST (d2l.load_data_mnist) at lr 0.9 for "
                      "10 epochs",
                "zh": "先运行 d2l.set_seed(0)，再在 MNIST 上（d2l.load_data_mnist）以学习率 0.9 训练 "
                      "d2l.lenet() 10 轮"},
    "other_layer": {"en": "layer {index} of max_lenet() is {mine}; the chapter's network has {chapter} there: "
                          "change only the pooling layers",
                    "zh": "max_lenet() 的第 {index} 层是 {mine}，而正文的网络在这一层是 {chapter}：只需更换汇聚层"},
    "chapter_layers": {"en": "max_lenet() should have the chapter's layers",
                       "zh": "max_lenet() 应该与正文的网络有相同的层"},
    "no_conv": {"en": "the question asks for a convolutional network of the LeNet family; net has no nn.Conv2d layer",
                "zh": "题目要求 LeNet 家族的卷积网络；net 中没有 nn.Conv2d 层"},
    "not_net_run": {"en": "history ends at {reported:.4f} test accuracy, but the grader measures your trained net at "
                          "{measured:.4f} on the test images: history is not the run that trained net",
                    "zh": "history 最终的测试精度为 {reported:.4f}，但评分程序在测试图像上测得你训练好的网络精度为 "
                          "{measured:.4f}：history 不是训练 net 的那次训练"},
    "not_saved": {"en": 'the network saved as ex2 is not the one trained here; save it with '
                        'd2l.save_network(net, "ex2", recipe)',
                  "zh": '保存为 ex2 的网络不是这里训练的网络；请用 d2l.save_network(net, "ex2", recipe) 保存它'},
    "not_on_mnist": {"en": "improved_history ends at {reported:.4f} test accuracy, but the grader measures the trained "
                           "net at {measured:.4f} on MNIST's test images: train net on MNIST (the train_iter and "
                           "test_iter of d2l.load_data_mnist)",
                     "zh": "improved_history 最终的测试精度为 {reported:.4f}，但评分程序在 MNIST 的测试图像上"
                           "测得训练好的网络精度为 {measured:.4f}：请在 MNIST 上训练 net（用 d2l.load_data_mnist "
                           "的 train_iter 和 test_iter）"},
    "not_the_lenet": {"en": "net should be the chapter's LeNet, trained above",
                      "zh": "net 应该是正文的 LeNet，即上面训练的那个"},
    "titles": {"en": "titles should hold one title per image, got {titles!r}",
               "zh": "titles 应该为每张图像各给一个标题，得到的是 {titles!r}"},
}


def note(key: str, **values: object) -> str:
    """The note ``key`` of ``NOTES`` in the language of the messages now, filled in with ``values``."""
    return NOTES[key][language()].format(**values)


def answer(answers: Answers, name: str) -> object:
    """The answer ``name``, or a failure that says why the grader has none."""
    value = answers.get(name)
    if isinstance(value, AnswerError):
        raise CheckFailed(str(value))
    if name not in answers:
        raise CheckFailed(note("received_no", name=name))
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
    return f"{values[-1]:.6f}" if values else note("nothing")


def require_same_run(history: d2l.TrainHistory, expected: d2l.TrainHistory, name: str, how: str) -> None:
    """``history`` has the numbers of ``expected``, the run the grader made as the question says."""
    def same(mine: list, theirs: list) -> bool:
        return len(mine) == len(theirs) and all(abs(a - b) <= RERUN_TOLERANCE * max(1.0, abs(b))
                                                for a, b in zip(mine, theirs))

    require(same(history.train_loss, expected.train_loss) and same(history.train_acc, expected.train_acc)
            and same(history.test_acc, expected.test_acc),
            note("not_the_run", name=name, how=how, loss=_last(history.train_loss), accuracy=_last(history.test_acc),
                 their_loss=_last(expected.train_loss), their_accuracy=_last(expected.test_acc)))


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
        require(mine == chapter, note("other_layer", index=i, mine=_layer(mine), chapter=_layer(chapter)))
    require(len(describe_net(net)) == len(max_lenet_layers()), note("chapter_layers"))


def ex1_q2(answers: Answers) -> None:
    history, net = answer(answers, "history"), answer(answers, "net")
    d2l.checks.check_history(history, 10)
    expected = rerun(lambda: rebuild_net(describe_net(net)), d2l.load_data_fashion_mnist)
    require_same_run(history, expected, "max_history", note("ex1_run"))


# ---- exercise 2 ----

def ex2_q1(answers: Answers) -> None:
    net = answer(answers, "net")
    d2l.checks.check_budget(net, max_params=100_000)
    require(any(isinstance(layer, nn.Conv2d) for layer in net.modules()), note("no_conv"))
    d2l.checks.check_recipe(answer(answers, "recipe"))


def ex2_q2(answers: Answers) -> None:
    net, history, recipe = answer(answers, "net"), answer(answers, "history"), answer(answers, "recipe")
    d2l.checks.check_recipe(recipe)
    d2l.checks.check_history(history, recipe.num_epochs)
    _, test_iter = d2l.load_data_fashion_mnist(batch_size=256)
    accuracy = measured_accuracy(net, test_iter)
    require(abs(accuracy - history.test_acc[-1]) <= ACCURACY_TOLERANCE,
            note("not_net_run", reported=history.test_acc[-1], measured=accuracy))
    require(accuracy >= 0.91, d2l.say("too_inaccurate", final=accuracy, goal=0.91))
    saved, saved_recipe = answer(answers, "saved"), answer(answers, "saved_recipe")
    require(describe_net(saved) == describe_net(net) and saved_recipe == recipe, note("not_saved"))


# ---- exercise 3 ----

def ex3_q1(answers: Answers) -> None:
    history = answer(answers, "history")
    d2l.checks.check_history(history, 10)
    expected = rerun(d2l.lenet, d2l.load_data_mnist)
    require_same_run(history, expected, "lenet_history", note("ex3_run"))


def ex3_q3(answers: Answers) -> None:
    recipe = answer(answers, "recipe")
    d2l.checks.check_recipe(recipe)
    require(not recipe.augment, d2l.say("ex3_still_mirrors"))
    history, net = answer(answers, "history"), answer(answers, "net")
    d2l.checks.check_history(history, recipe.num_epochs)
    _, test_iter = d2l.load_data_mnist(batch_size=256)
    accuracy = measured_accuracy(net, test_iter)
    require(abs(accuracy - history.test_acc[-1]) <= ACCURACY_TOLERANCE,
            note("not_on_mnist", reported=history.test_acc[-1], measured=accuracy))


# ---- exercise 4 ----

def ex4_q1(answers: Answers) -> None:
    net = answer(answers, "net")
    require(describe_net(net) == describe_net(d2l.lenet()), note("not_the_lenet"))
    X, titles = answer(answers, "X"), answer(answers, "titles")
    _, test_iter = d2l.load_data_fashion_mnist(batch_size=256)
    d2l.checks.check_examples(X, test_iter, ["pullover", "coat"])
    require(isinstance(titles, list) and len(titles) == 2, note("titles", titles=titles))
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
