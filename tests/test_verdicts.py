"""The grader's verdicts on runs and trained networks, on 256 real examples per split (quick).

Each verdict is tried with the answer it asks for, made here as a student would make it, and
with answers that are wrong in one way, whose message it must name.
"""
from __future__ import annotations

import contextlib
import io
import sys

import pytest
import torch
from torch import nn

import d2l_local as d2l
from conftest import CJK, REPO, placeholders

sys.path.insert(0, str(REPO))
from tools.instructor.grading import verdicts  # noqa: E402


@pytest.fixture(autouse=True)
def small_data(monkeypatch, data_root, mnist_root):
    """Both data sets cut to 256 examples per split, as D2L_MAX_EXAMPLES does while grading."""
    monkeypatch.setenv("D2L_MAX_EXAMPLES", "256")
    monkeypatch.setenv("D2L_DATA_DIR", str(data_root))
    assert data_root == mnist_root  # one folder holds both, as $D2L_DATA_DIR does for the grader


def _run(build, load, seed: int = 0, num_epochs: int = 10, lr: float = 0.9):
    """A student's run: seed, build, train quietly; returns (net, history)."""
    train_iter, test_iter = load(batch_size=256)
    d2l.set_seed(seed)
    net = build()
    with d2l.hidden_animators(), contextlib.redirect_stdout(io.StringIO()):
        history = d2l.train_ch6(net, train_iter, test_iter, num_epochs, lr, torch.device("cpu"))
    return net, history


def _max_lenet():  # the answer to exercise 1, question 1
    return d2l.lenet_variant(pooling="max")


def _verdict(function, **answers) -> str:
    """'right', or the failure's message."""
    try:
        function(answers)
    except d2l.checks.CheckFailed as failure:
        return str(failure)
    return "right"


def test_exercise_1_the_seed_0_run_and_another():
    net, history = _run(_max_lenet, d2l.load_data_fashion_mnist)
    assert _verdict(verdicts.ex1_q2, history=history, net=net) == "right"
    _, other = _run(_max_lenet, d2l.load_data_fashion_mnist, seed=1)
    assert _verdict(verdicts.ex1_q2, history=other, net=net).startswith(
        "max_history is not the run that d2l.set_seed(0), then training max_lenet() with the chapter's settings "
        "(lr 0.9, 10 epochs, batch size 256) gives: it ends at training loss")
    assert _verdict(verdicts.ex1_q2, net=net) == "the grader received no history"


def test_exercise_3_the_seed_0_run_on_mnist_not_on_fashion_mnist():
    _, history = _run(d2l.lenet, d2l.load_data_mnist)
    assert _verdict(verdicts.ex3_q1, history=history) == "right"
    _, fashion = _run(d2l.lenet, d2l.load_data_fashion_mnist)
    assert _verdict(verdicts.ex3_q1, history=fashion).startswith(
        "lenet_history is not the run that d2l.set_seed(0), then training d2l.lenet() on MNIST")
    _, short = _run(d2l.lenet, d2l.load_data_mnist, num_epochs=9)
    assert _verdict(verdicts.ex3_q1, history=short) == "the run trained 9 epoch(s); the question asks for 10"


def test_exercise_3_the_improved_run_is_measured_on_mnist():
    recipe = d2l.Recipe(num_epochs=2, lr=0.9)
    net, history = _run(d2l.lenet, d2l.load_data_mnist, num_epochs=2)
    assert _verdict(verdicts.ex3_q3, recipe=recipe, history=history, net=net) == "right"
    fashion_net, fashion_history = _run(d2l.lenet, d2l.load_data_fashion_mnist, num_epochs=2)
    assert "train net on MNIST" in _verdict(verdicts.ex3_q3, recipe=recipe, history=fashion_history,
                                            net=fashion_net)
    assert _verdict(verdicts.ex3_q3, recipe=d2l.Recipe(num_epochs=2, augment=True), history=history, net=net) == (
        "digit_recipe still mirrors the training images (augment=True); would a mirrored 3 still be a 3?")


def test_exercise_2_the_design_is_measured_again_and_must_be_the_one_saved(monkeypatch):
    recipe = d2l.Recipe(num_epochs=2, lr=0.9)
    net, history = _run(d2l.lenet, d2l.load_data_fashion_mnist, num_epochs=2)
    answers = dict(net=net, history=history, recipe=recipe, saved=net, saved_recipe=recipe)
    measured = history.test_acc[-1]
    assert _verdict(verdicts.ex2_q2, **answers) == (
        f"your net ends at {measured:.4f} test accuracy; the question asks for at least 0.91")
    _, other = _run(d2l.lenet, d2l.load_data_fashion_mnist, seed=1, num_epochs=2)
    assert "history is not the run that trained net" in _verdict(verdicts.ex2_q2, **{**answers, "history": other})
    assert _verdict(verdicts.ex2_q2, **{**answers, "recipe": d2l.Recipe(num_epochs=3)}) == \
        "the run trained 2 epoch(s); the question asks for 3"
    # 256 test images cannot show 0.91 from a quick run: the grader's measurement says 0.95 here.
    monkeypatch.setattr(verdicts, "measured_accuracy", lambda net, test_iter: 0.95)
    history.test_acc[-1] = 0.95
    assert _verdict(verdicts.ex2_q2, **answers) == "right"
    wrong_save = 'the network saved as ex2 is not the one trained here; save it with d2l.save_network(net, "ex2", recipe)'
    assert _verdict(verdicts.ex2_q2, **{**answers, "saved": d2l.lenet_variant(activation="relu")}) == wrong_save
    assert _verdict(verdicts.ex2_q2, **{**answers, "saved_recipe": d2l.Recipe(lr=0.1)}) == wrong_save


def test_a_verdict_that_raises_is_a_wrong_answer_said_as_such(tmp_path, monkeypatch):
    def broken(answers):
        raise ValueError("cannot judge this")

    monkeypatch.setitem(verdicts.QUESTIONS, "ex", {"check-1": ("1", broken)})
    monkeypatch.setattr(verdicts, "read_answers", lambda folder, question: {})
    assert verdicts.judge("ex", tmp_path) == {"check-1": {
        "question": "1", "right": False,
        "message": "Question 1: not yet: judging your answer raised ValueError: cannot judge this"}}


def test_exercise_4_names_the_block_whose_maps_are_wrong():
    net = d2l.lenet()
    _, test_iter = d2l.load_data_fashion_mnist(batch_size=256)
    X, titles = d2l.pick_examples(test_iter, ["pullover", "coat"])
    block1, block2 = d2l.feature_maps(net, X)
    answers = dict(net=net, X=X, titles=titles, block1=block1, block2=block2)
    assert _verdict(verdicts.ex4_q1, **answers) == "right"
    assert _verdict(verdicts.ex4_q1, **{**answers, "block1": torch.rand_like(block1)}).startswith(
        "the maps of block 1 you give (shape (2, 6, 28, 28)) are not the output of any layer")


def test_the_verdicts_speak_the_language_of_the_graded_assignment(tmp_path):
    """A Chinese assignment's feedback is in Chinese: the grader runs with the assignment's language."""
    from tools.instructor import release

    scratch = release.Scratch(tmp_path)
    scratch.answers.mkdir(parents=True)  # no answer exported at all: every question is 'not yet'
    english = release._verdicts("lenet_ex1_max_pooling", scratch, 100, "en")
    chinese = release._verdicts("lenet_ex1_max_pooling", scratch, 100, "zh")
    assert {v["message"] for v in english.values()} == {
        f"Question {q}: not yet: the grader received no answer: the check cell did not run to its end" for q in "12"}
    assert {v["message"] for v in chinese.values()} == {
        f"问题 {q}：还不对：评分程序没有收到答案：检查单元格没有运行完" for q in "12"}


def test_every_note_of_the_grader_has_both_languages_with_the_same_blanks():
    for key, texts in verdicts.NOTES.items():
        assert set(texts) == set(d2l.messages.LANGUAGES), key
        assert placeholders(texts["en"]) == placeholders(texts["zh"]), key
        assert CJK.search(texts["zh"]) and not CJK.search(texts["en"]), key


def test_a_chinese_assignments_verdicts_say_what_is_wrong_in_chinese(tmp_path, monkeypatch, chinese):
    relu_at_1 = _max_lenet()
    relu_at_1[1] = nn.ReLU()
    answers = {"1": {"net": relu_at_1}, "2": {"net": relu_at_1}}  # no history for question 2
    monkeypatch.setattr(verdicts, "read_answers", lambda folder, question: answers[question])
    assert [v["message"] for v in verdicts.judge("lenet_ex1_max_pooling", tmp_path).values()] == [
        "问题 1：还不对：max_lenet() 的第 1 层是 ReLU()，而正文的网络在这一层是 Sigmoid()：只需更换汇聚层",
        "问题 2：还不对：评分程序没有收到 history"]
    answers = {"1": {"net": nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), "recipe": d2l.Recipe()}}
    assert verdicts.judge("lenet_ex2_improve", tmp_path)["ex2-q1-check"]["message"] == (
        "问题 1：还不对：题目要求 LeNet 家族的卷积网络；net 中没有 nn.Conv2d 层")
    mine = d2l.TrainHistory(num_epochs=1, device="cpu", train_loss=[0.5], test_acc=[0.8125])
    theirs = d2l.TrainHistory(num_epochs=1, device="cpu", train_loss=[0.25])
    with pytest.raises(d2l.checks.CheckFailed) as failure:
        verdicts.require_same_run(mine, theirs, "max_history", verdicts.note("ex1_run"))
    assert str(failure.value) == (
        "max_history 不是按以下步骤训练得到的：先运行 d2l.set_seed(0)，再按正文的设置（学习率 0.9，10 轮，"
        "批量大小 256）训练 max_lenet()。它最终的训练损失为 0.500000、测试精度为 0.812500，"
        "而评分程序按这些步骤训练的结果为 0.250000 和 无")
