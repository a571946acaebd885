"""The language of the course's messages to students: English, or Chinese in the Chinese notebooks.

A Chinese notebook calls ``d2l.use_language('zh')`` once, in its import cell; from then on
the exercises' checks and notes speak Chinese, with the terms of
``notebooks/zh/GLOSSARY.md``. ``train_ch6``'s progress lines stay in English in both editions,
as in the book's Chinese edition. ``say(key, **values)`` returns the message ``key`` of
``MESSAGES`` in the current language, filled in with ``values``.
"""
from __future__ import annotations

LANGUAGES = ("en", "zh")
LANGUAGE_ENV = "D2L_LANGUAGE"  # the language before any notebook chooses one (default English)

MESSAGES: dict[str, dict[str, str]] = {
    # check_answer's verdicts
    "right": {"en": "Question {question}: right.",
              "zh": "问题 {question}：正确。"},
    "not_yet": {"en": "Question {question}: not yet: {message}",
                "zh": "问题 {question}：还不对：{message}"},
    "undefined": {"en": "{missing}: write your answer in the cell above and run it, then run this check again.",
                  "zh": "{missing}：请在上面的单元格中写出解答并运行，然后再运行这个检查。"},
    "raised": {"en": "running your answer raised {error}: {detail}",
               "zh": "运行你的解答时出现异常 {error}：{detail}"},
    # the grader's verdicts (tools/instructor/grading/verdicts.py), in the language of the graded notebook
    "no_answer_received": {"en": "the grader received no answer: the check cell did not run to its end",
                           "zh": "评分程序没有收到答案：检查单元格没有运行完"},
    "judging_raised": {"en": "judging your answer raised {error}: {detail}",
                       "zh": "评判你的解答时出现异常 {error}：{detail}"},
    # the answers a graded check cell exports and the grader reads back (d2l_local/exercises/grading.py)
    "export_undefined": {"en": "{error}: write your answer in its cell and run it",
                         "zh": "{error}：请在对应的单元格中写出解答并运行"},
    "cannot_take": {"en": "the grader cannot take a {kind}", "zh": "评分程序无法接收 {kind} 类型的答案"},
    "needs_sequential": {"en": "the grader rebuilds networks made with nn.Sequential from torch.nn layers; "
                               "this one is a {kind}",
                         "zh": "评分程序只能重建用 torch.nn 的层组成的 nn.Sequential 网络；这个网络是 {kind}"},
    "unknown_layer": {"en": "the grader rebuilds networks from torch.nn layers ({layers}); {name} is not one of them",
                      "zh": "评分程序只用这些 torch.nn 的层重建网络（{layers}）；{name} 不在其中"},
    "not_a_layer_list": {"en": "a network is a list of layers", "zh": "网络应该是由层组成的列表"},
    "not_a_layer": {"en": "not a layer: {item!r:.80}", "zh": "不是一个层：{item!r:.80}"},
    "not_a_layer_name": {"en": "not a layer name: {name!r:.80}", "zh": "不是有效的层名：{name!r:.80}"},
    "not_a_rebuilt_layer": {"en": "{layer!r} is not a layer the grader rebuilds",
                            "zh": "{layer!r} 不是评分程序能重建的层"},
    "unexpected_arguments": {"en": "unexpected arguments for {layer}: {args!r:.80}",
                             "zh": "{layer} 的参数不符合预期：{args!r:.80}"},
    "cannot_build": {"en": "{layer}({args}) cannot be built: {error}", "zh": "无法构建 {layer}({args})：{error}"},
    "too_large_to_grade": {"en": "the network has {size:,} parameters; the grader rebuilds at most {limit:,}",
                           "zh": "这个网络有 {size:,} 个参数；评分程序最多只重建 {limit:,} 个参数的网络"},
    "weights_do_not_fit": {"en": "the network's weights do not fit its layers: {error}",
                           "zh": "网络的权重与它的层不匹配：{error}"},
    "exported_elsewhere": {"en": "the exported answers are a link to somewhere else, not what the check cell wrote",
                           "zh": "导出的答案是指向别处的链接，而不是检查单元格写下的内容"},
    "exported_missing": {"en": "the exported answers are missing or too large to read",
                         "zh": "导出的答案缺失或过大，无法读取"},
    "exported_unreadable": {"en": "the exported answers cannot be read ({error})",
                            "zh": "无法读取导出的答案（{error}）"},
    "exported_misshapen": {"en": "the exported answers are not in the expected form",
                           "zh": "导出的答案格式不符合预期"},
    "answer_not_rebuilt": {"en": "the exported {name} cannot be rebuilt: {error}",
                           "zh": "无法重建导出的 {name}：{error}"},
    "answer_misshapen": {"en": "the exported {name} is not in the expected form",
                         "zh": "导出的 {name} 格式不符合预期"},
    # what joins the items of a list in a message: pullover, coat / pullover、coat
    "list_separator": {"en": ", ", "zh": "、"},
    # what checks.described says a value is
    "a_class": {"en": "the class {name} itself (call it to make one)",
                "zh": "类 {name} 本身（调用它才能得到一个实例）"},
    "a_function": {"en": "the function {name} (call it to get its result)",
                   "zh": "函数 {name}（调用它才能得到结果）"},
    "a_tensor": {"en": "a tensor of shape {shape}", "zh": "形状为 {shape} 的张量"},
    # the checks
    "not_a_module": {"en": "expected a torch network (nn.Module), got {got}",
                     "zh": "需要一个 torch 网络（nn.Module），得到的是{got}"},
    "bad_input": {"en": "your net cannot take an input of shape {shape}: {error}. Print each layer's output shape, "
                        "as the chapter does, to find the layer that does not fit",
                  "zh": "你的网络无法接受形状为 {shape} 的输入：{error}。像正文那样打印每一层的输出形状，"
                        "找出不匹配的那一层"},
    "bad_output": {"en": "your net outputs {shape} for an input of shape {input_shape}; {classes} classes need "
                         "{expected}",
                   "zh": "输入形状为 {input_shape} 时，你的网络输出 {shape}；{classes} 个类别需要 {expected}"},
    "not_sequential": {"en": "expected an nn.Sequential, got {got}", "zh": "需要一个 nn.Sequential，得到的是{got}"},
    "wrong_pooling": {"en": "layer {index} of your net is still nn.{found}; replace every pooling layer by nn.{wanted}",
                      "zh": "你的网络的第 {index} 层仍是 nn.{found}；请把每个汇聚层都换成 nn.{wanted}"},
    "pooling_window": {"en": "layer {index} pools with kernel_size={kernel}, stride={stride}; the question asks for "
                             "kernel_size={wanted_kernel}, stride={wanted_stride}",
                       "zh": "第 {index} 层汇聚时 kernel_size={kernel}，stride={stride}；题目要求 "
                             "kernel_size={wanted_kernel}，stride={wanted_stride}"},
    "pooling_count": {"en": "your net has {count} pooling layer(s); it needs {wanted}",
                      "zh": "你的网络有 {count} 个汇聚层；需要 {wanted} 个"},
    "same_size": {"en": "your net has {mine:,} parameters and the reference {theirs:,}; {why}",
                  "zh": "你的网络有 {mine:,} 个参数，参考网络有 {theirs:,} 个；{why}"},
    "pooling_has_no_parameters": {"en": "pooling layers have no parameters, so the counts must match",
                                  "zh": "汇聚层没有参数，所以两者的参数个数必须相同"},
    "over_budget": {"en": "your net has {count:,} parameters; the budget is at most {budget:,}",
                    "zh": "你的网络有 {count:,} 个参数；预算最多 {budget:,} 个"},
    "not_a_recipe": {"en": "recipe should be a d2l.Recipe, got {got}",
                     "zh": "recipe 应该是一个 d2l.Recipe，得到的是{got}"},
    "too_inaccurate": {"en": "your net ends at {final:.4f} test accuracy; the question asks for at least {goal:.2f}",
                       "zh": "你的网络最终的测试精度为 {final:.4f}；题目要求至少 {goal:.2f}"},
    "not_a_history": {"en": "expected the TrainHistory that train_ch6 returns, got {got}",
                      "zh": "需要 train_ch6 返回的 TrainHistory，得到的是{got}"},
    "not_finished": {"en": "the training run did not finish (status {status!r}); run it again to the end",
                     "zh": "训练没有完成（状态 {status!r}）；请重新运行到结束"},
    "wrong_epochs": {"en": "the run trained {trained} epoch(s); the question asks for {wanted}",
                     "zh": "这次训练了 {trained} 轮；题目要求 {wanted} 轮"},
    "not_images": {"en": "X should be a tensor of images, got {got}", "zh": "X 应该是图像张量，得到的是{got}"},
    "examples_shape": {"en": "X has shape {shape}; one image for each of {classes} has shape {expected}",
                       "zh": "X 的形状为 {shape}；{classes} 各一张图像的形状应为 {expected}"},
    "wrong_example": {"en": "image {index} of X is not the first {name} of the test set",
                      "zh": "X 的第 {index} 张图像不是测试集中的第一个 {name}"},
    "block": {"en": "block {number}", "zh": "卷积块 {number}"},
    "maps_not_tensor": {"en": "the maps of {block} should be a tensor, got {got}",
                        "zh": "{block}的特征图应该是张量，得到的是{got}"},
    "maps_of_layer": {"en": "the maps of {block} you give are the output of layer {layer} ({kind}); {block} ends "
                            "with its activation, the output of layer {end} ({end_kind})",
                      "zh": "你给出的{block}的特征图是第 {layer} 层（{kind}）的输出；{block}以激活函数结束，"
                            "即第 {end} 层（{end_kind}）的输出"},
    "maps_of_nothing": {"en": "the maps of {block} you give (shape {shape}) are not the output of any layer of net "
                              "for X; {block} ends with layer {end} ({end_kind}), shape {end_shape}",
                        "zh": "你给出的{block}的特征图（形状 {shape}）不是 net 任何一层对 X 的输出；{block}以第 {end} 层"
                              "（{end_kind}）结束，形状为 {end_shape}"},
    "ex1_same_history": {"en": "max_history is the average-pooling run; train max_lenet() and keep its own history",
                         "zh": "max_history 是平均汇聚的那次训练；请训练 max_lenet() 并保存它自己的训练记录"},
    "ex3_still_mirrors": {"en": "digit_recipe still mirrors the training images (augment=True); would a mirrored 3 "
                                "still be a 3?",
                          "zh": "digit_recipe 仍会左右翻转训练图像（augment=True）；翻转后的 3 还是 3 吗？"},
    # notes of d2l.save_network and d2l.load_network
    "saved_with_local": {"en": "Saved {path}; note: {names} is defined in this notebook, so a notebook that loads "
                               "the network must define it too.",
                         "zh": "已保存 {path}；注意：{names} 是在这个笔记本中定义的，所以加载这个网络的笔记本也必须定义它。"},
    "uses_fallback": {"en": "{reason}, so this notebook uses {description} instead. {fix}.",
                      "zh": "{reason}，所以这个笔记本改用{description}。{fix}。"},
    "no_saved_network": {"en": "There is no saved network {name!r} in {folder}",
                         "zh": "{folder} 中没有保存的网络 {name!r}"},
    "save_again": {"en": "Run exercise 2 to its end: it saves the network with d2l.save_network(net, {name!r}, recipe)",
                   "zh": "请把练习 2 运行到最后：它会用 d2l.save_network(net, {name!r}, recipe) 保存网络"},
    "ex3_stand_in": {"en": "a LeNet with ReLU, max pooling and batch norm, 5 epochs at lr 0.1",
                     "zh": "一个使用 ReLU、最大汇聚和批量规范化的 LeNet（学习率 0.1，训练 5 轮）"},
}


def _initial() -> str:
    import os

    chosen = os.environ.get(LANGUAGE_ENV, "en")
    return chosen if chosen in LANGUAGES else "en"


_current = _initial()


def use_language(code: str) -> None:
    """Make ``code`` (``'en'`` or ``'zh'``) the language of the checks' messages and notes from now on."""
    global _current
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; choose one of {', '.join(LANGUAGES)}")
    _current = code


def language() -> str:
    """The language of the messages now: ``'en'`` or ``'zh'``."""
    return _current


def say(key: str, **values: object) -> str:
    """The message ``key`` of ``MESSAGES`` in the current language, filled in with ``values``."""
    return MESSAGES[key][_current].format(**values)
