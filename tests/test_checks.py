"""The public checks: the verdict each prints, quiet failures for students, AssertionError under the grader."""

import pytest
import torch
from torch import nn

import d2l_local as d2l
from conftest import CJK, placeholders
from d2l_local import loaders
from d2l_local.exercises import checks

def _max_lenet(pool=nn.MaxPool2d, outputs=10):
    net = d2l.lenet()
    for i, layer in enumerate(net):
        if isinstance(layer, nn.AvgPool2d):
            net[i] = pool(kernel_size=2, stride=2)
    net[-1] = nn.Linear(84, outputs)
    return net

@pytest.fixture
def student(monkeypatch):
    monkeypatch.delenv(checks.GRADER_ENV, raising=False)

def test_a_right_answer_says_so(student, capsys):
    assert d2l.check_answer("1", lambda: checks.check_pooling(_max_lenet(), nn.MaxPool2d, 2, 2, 2)) is None
    assert capsys.readouterr().out == "Question 1: right.\n"

@pytest.mark.parametrize("net, message", [
    (_max_lenet(outputs=7), "your net outputs (1, 7) for an input of shape (1, 1, 28, 28); 10 classes need (1, 10)"),
])
def test_output_shape_message(student, capsys, net, message):
    assert d2l.check_answer("1", lambda: checks.check_output_shape(net, (1, 10))) is None
    assert capsys.readouterr().out == f"Question 1: not yet: {message}\n"

def test_pooling_messages(student):
    with pytest.raises(checks.CheckFailed, match=r"^layer 2 of your net is still nn.AvgPool2d; replace every "
                                                 r"pooling layer by nn.MaxPool2d$"):
        checks.check_pooling(d2l.lenet(), nn.MaxPool2d, 2, 2, 2)
    net = _max_lenet()
    net[5] = nn.MaxPool2d(kernel_size=3, stride=2)
    with pytest.raises(checks.CheckFailed, match=r"layer 5 pools with kernel_size=3, stride=2; the question asks "
                                                 r"for kernel_size=2, stride=2"):
        checks.check_pooling(net, nn.MaxPool2d, 2, 2, 2)
    with pytest.raises(checks.CheckFailed, match=r"your net has 1 pooling layer\(s\); it needs 2"):
        checks.check_pooling(nn.Sequential(*list(_max_lenet())[:3]), nn.MaxPool2d, 2, 2, 2)

def test_undefined_names_and_crashes_are_reported_not_raised(student, capsys):
    def missing():
        return max_lenet()  # noqa: F821  (the student has not run the answer cell)

    def crashes():
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    d2l.check_answer("1", missing)
    d2l.check_answer("2", crashes)
    assert capsys.readouterr().out.splitlines() == [
        "Question 1: not yet: name 'max_lenet' is not defined: write your answer in the cell above and run it, "
        "then run this check again.",
        "Question 2: not yet: running your answer raised RuntimeError: mat1 and mat2 shapes cannot be multiplied"]

def test_under_the_grader_a_failure_raises_with_the_message(monkeypatch):
    monkeypatch.setenv(checks.GRADER_ENV, "autograde")
    with pytest.raises(AssertionError, match=r"^Question 1: layer 2 of your net is still nn.AvgPool2d"):
        d2l.check_answer("1", lambda: checks.check_pooling(d2l.lenet(), nn.MaxPool2d, 2, 2, 2))
    d2l.check_answer("1", lambda: None)  # a right answer does not raise

def test_same_size_and_history():
    with pytest.raises(checks.CheckFailed, match=r"your net has 120,382 parameters and the reference 61,706; why"):
        checks.check_same_size(d2l.lenet_variant(batch_norm=False, channels=(16, 32)), d2l.lenet(), "why")
    history = d2l.TrainHistory(num_epochs=10, device="cpu", test_acc=[0.5] * 3, status="interrupted")
    with pytest.raises(checks.CheckFailed, match=r"did not finish \(status 'interrupted'\)"):
        checks.check_history(history, 10)
    history.status = "finished"
    with pytest.raises(checks.CheckFailed, match=r"the run trained 3 epoch\(s\); the question asks for 10"):
        checks.check_history(history, 10)
    with pytest.raises(checks.CheckFailed, match=r"expected the TrainHistory that train_ch6 returns, got list"):
        checks.check_history([], 10)

def test_block_maps_name_the_layer_that_was_given():
    torch.manual_seed(0)
    net, X = d2l.lenet(), torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        checks.check_block_maps(net[:5](X), net, X, 5, 2)
        with pytest.raises(checks.CheckFailed, match=r"are the output of layer 5 \(AvgPool2d\); block 2 ends with "
                                                     r"its activation, the output of layer 4 \(Sigmoid\)"):
            checks.check_block_maps(net[:6](X), net, X, 5, 2)
        with pytest.raises(checks.CheckFailed, match=r"are the output of layer 0 \(Conv2d\)"):
            checks.check_block_maps(net[:1](X), net, X, 2, 1)
        with pytest.raises(checks.CheckFailed, match=r"\(shape \(2, 3\)\) are not the output of any layer"):
            checks.check_block_maps(torch.zeros(2, 3), net, X, 2, 1)

def test_max_examples_keeps_the_first_examples(monkeypatch, tmp_path):
    from conftest import make_dataset
    root = make_dataset(tmp_path / "FashionMNIST" / "raw", n_train=12, n_test=6).parent.parent
    monkeypatch.setenv(loaders.MAX_EXAMPLES_ENV, "4")
    train_iter, test_iter = d2l.load_data_fashion_mnist(3, root=root)
    assert (len(train_iter.labels), len(test_iter.labels)) == (4, 4)
    assert test_iter.labels.tolist() == [0, 1, 2, 3]
    monkeypatch.setenv(loaders.MAX_EXAMPLES_ENV, "0")
    with pytest.raises(ValueError, match="D2L_MAX_EXAMPLES must be a positive whole number of examples, got '0'"):
        d2l.load_data_fashion_mnist(3, root=root)

def test_budget_counts_parameters_on_both_sides_of_the_limit():
    net = d2l.lenet_variant(activation="relu", pooling="max", batch_norm=True, channels=(16, 32))
    assert d2l.num_params(net) == 120_430
    checks.check_budget(net, max_params=120_430)
    with pytest.raises(checks.CheckFailed, match=r"^your net has 120,430 parameters; the budget is at most "
                                                 r"120,429$"):
        checks.check_budget(net, max_params=120_429)
    with pytest.raises(checks.CheckFailed, match=r"^your net outputs \(2, 84\) for an input of shape "
                                                 r"\(2, 1, 28, 28\); 10 classes need \(2, 10\)$"):
        checks.check_budget(d2l.lenet()[:-1], max_params=100_000)


def test_output_shape_check_leaves_batch_norm_statistics_and_the_mode_as_they_were():
    for training in (True, False):
        net = d2l.lenet_variant(batch_norm=True).train(training)
        before = {k: v.clone() for k, v in net.state_dict().items()}
        checks.check_output_shape(net, (1, 10))
        assert net.training is training
        assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_recipe_and_accuracy():
    checks.check_recipe(d2l.Recipe())
    with pytest.raises(checks.CheckFailed, match=r"^recipe should be a d2l.Recipe, got dict$"):
        checks.check_recipe({"lr": 0.1})
    history = d2l.TrainHistory(num_epochs=2, device="cpu", test_acc=[0.85, 0.9099], status="finished")
    with pytest.raises(checks.CheckFailed, match=r"^your net ends at 0.9099 test accuracy; the question asks for "
                                                 r"at least 0.91$"):
        checks.check_accuracy(history, 2, at_least=0.91)
    history.test_acc[-1] = 0.91
    checks.check_accuracy(history, 2, at_least=0.91)
    with pytest.raises(checks.CheckFailed, match=r"the run trained 2 epoch\(s\); the question asks for 3$"):
        checks.check_accuracy(history, 3, at_least=0.91)


def test_a_class_a_function_or_a_net_that_does_not_fit_is_named_with_what_to_do():
    with pytest.raises(checks.CheckFailed, match=r"^recipe should be a d2l.Recipe, got the class Recipe itself "
                                                 r"\(call it to make one\)$"):
        checks.check_recipe(d2l.Recipe)
    with pytest.raises(checks.CheckFailed, match=r"^expected a torch network \(nn.Module\), got the function "
                                                 r"lenet_variant \(call it to get its result\)$"):
        checks.check_budget(d2l.lenet_variant, 100_000)
    with pytest.raises(checks.CheckFailed, match=r"^X should be a tensor of images, got list$"):
        checks.check_examples([1], [], ["coat"])
    unpadded = d2l.lenet()
    unpadded[0] = nn.Conv2d(1, 6, kernel_size=5)
    with pytest.raises(checks.CheckFailed, match=r"^your net cannot take an input of shape \(1, 1, 28, 28\): "
                                                 r"mat1 and mat2 shapes cannot be multiplied \(1x256 and 400x120\)\. "
                                                 r"Print each layer's output shape, as the chapter does, to find "
                                                 r"the layer that does not fit$"):
        checks.check_output_shape(unpadded, (1, 10))
    assert unpadded.training  # the mode is restored after a failure too
    assert checks.described(torch.zeros(2, 3)) == "a tensor of shape (2, 3)" and checks.described(d2l.lenet()) == \
        "Sequential"


def _batches():
    """Two batches of 1x4x4 images whose pixels hold their position; labels: 4 (coat) at 1 and 5, 2 (pullover) at 3."""
    X = torch.arange(8 * 16, dtype=torch.float32).reshape(8, 1, 4, 4)
    y = torch.tensor([0, 4, 1, 2, 3, 4, 2, 5])
    return [(X[:4], y[:4]), (X[4:], y[4:])], X


def test_examples_are_the_first_of_each_class_in_the_order_asked():
    batches, X = _batches()
    checks.check_examples(X[[1, 3]], batches, ["coat", "pullover"])
    with pytest.raises(checks.CheckFailed, match=r"^image 0 of X is not the first pullover of the test set$"):
        checks.check_examples(X[[1, 3]], batches, ["pullover", "coat"])
    with pytest.raises(checks.CheckFailed, match=r"^image 1 of X is not the first pullover of the test set$"):
        checks.check_examples(X[[1, 6]], batches, ["coat", "pullover"])  # the second pullover
    with pytest.raises(checks.CheckFailed, match=r"^X has shape \(3, 1, 4, 4\); one image for each of coat, "
                                                 r"pullover has shape \(2, 1, 4, 4\)$"):
        checks.check_examples(X[[1, 3, 5]], batches, ["coat", "pullover"])


def test_a_chinese_message_lists_the_classes_with_the_enumeration_comma(chinese):
    batches, X = _batches()
    with pytest.raises(checks.CheckFailed, match=r"^X 的形状为 \(3, 1, 4, 4\)；coat、pullover 各一张"):
        checks.check_examples(X[[1, 3, 5]], batches, ["coat", "pullover"])


def test_accuracy_is_read_at_the_last_epoch():
    history = d2l.TrainHistory(num_epochs=3, device="cpu", test_acc=[0.5, 0.95, 0.85], status="finished")
    with pytest.raises(checks.CheckFailed, match=r"^your net ends at 0.8500 test accuracy"):
        checks.check_accuracy(history, 3, at_least=0.91)


def test_maps_of_no_layer_name_the_block_and_its_last_layer():
    torch.manual_seed(0)
    net, X = d2l.lenet(), torch.rand(2, 1, 28, 28)
    with pytest.raises(checks.CheckFailed, match=r"^the maps of block 1 you give \(shape \(2, 3\)\) are not the output "
                                                 r"of any layer of net for X; block 1 ends with layer 1 \(Sigmoid\), "
                                                 r"shape \(2, 6, 28, 28\)$"):
        checks.check_block_maps(torch.zeros(2, 3), net, X, 2, 1)


def test_block_maps_taken_after_a_layer_that_changes_the_shape_are_recognised():
    """The block may end with a pooling layer: its output is right even though the layer before has another shape."""
    net, X = d2l.lenet(), torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        pooled = net[:3](X)
    assert pooled.shape != net[:2](X).shape
    d2l.checks.check_block_maps(pooled, net, X, 3, 1)  # no CheckFailed


# ---- the language of the messages ----

def test_every_message_has_both_languages_with_the_same_blanks():
    from d2l_local import messages as language

    for key, texts in language.MESSAGES.items():
        assert set(texts) == set(language.LANGUAGES), key
        assert placeholders(texts["en"]) == placeholders(texts["zh"]), key  # numbers formatted alike, too
        assert CJK.search(texts["zh"]) or texts["zh"] == "、", key  # Chinese, or the enumeration comma
        assert not CJK.search(texts["en"]), key


def test_a_wrong_answer_through_a_chinese_check_prints_no_english(chinese, capsys):
    net = d2l.lenet()
    wrong = [lambda: checks.check_pooling(net, nn.MaxPool2d, count=2, kernel_size=2, stride=2),
             lambda: checks.check_output_shape(nn.Sequential(nn.Flatten(), nn.Linear(784, 7)), (1, 10)),
             lambda: checks.check_budget(d2l.lenet_variant(channels=(32, 64)), 100_000),
             lambda: checks.check_history("history", 10),
             lambda: checks.check_recipe(d2l.Recipe),
             lambda: checks.check_block_maps(torch.zeros(2, 3), net, torch.zeros(2, 1, 28, 28), 2, 1),
             lambda: undefined_name,  # noqa: F821 - the answer cell was not run
             lambda: 1 / 0]
    for k, check in enumerate(wrong, start=1):
        d2l.check_answer(str(k), check)
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "问题 1：还不对：你的网络的第 2 层仍是 nn.AvgPool2d；请把每个汇聚层都换成 nn.MaxPool2d",
        "问题 2：还不对：输入形状为 (1, 1, 28, 28) 时，你的网络输出 (1, 7)；10 个类别需要 (1, 10)",
        "问题 3：还不对：你的网络有 255,230 个参数；预算最多 100,000 个",
        "问题 4：还不对：需要 train_ch6 返回的 TrainHistory，得到的是str",
        "问题 5：还不对：recipe 应该是一个 d2l.Recipe，得到的是类 Recipe 本身（调用它才能得到一个实例）",
        "问题 6：还不对：你给出的卷积块 1的特征图（形状 (2, 3)）不是 net 任何一层对 X 的输出；卷积块 1以第 1 层（Sigmoid）结束，"
        "形状为 (2, 6, 28, 28)",
        "问题 7：还不对：name 'undefined_name' is not defined：请在上面的单元格中写出解答并运行，然后再运行这个检查。",
        "问题 8：还不对：运行你的解答时出现异常 ZeroDivisionError：division by zero"]
    d2l.check_answer("9", lambda: None)
    assert capsys.readouterr().out == "问题 9：正确。\n"


def test_the_language_is_checked_and_english_is_back_after_zh(chinese, capsys):
    with pytest.raises(ValueError, match=r"^unknown language 'fr'; choose one of en, zh$"):
        d2l.use_language("fr")
    assert d2l.language() == "zh"
    d2l.use_language("en")
    d2l.check_answer("1", lambda: checks.check_history("history", 10))
    assert capsys.readouterr().out == ("Question 1: not yet: expected the TrainHistory that train_ch6 returns, "
                                       "got str\n")
