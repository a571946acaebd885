"""The grading tools' parts, quickly: answers as data and back, the sandbox's arguments, the verdicts."""
from __future__ import annotations

import json
import os
import sys

import pytest
import torch
from torch import nn

import d2l_local as d2l
from conftest import REPO
from d2l_local.exercises import grading

sys.path.insert(0, str(REPO))
from tools.instructor.grading import sandbox, verdicts  # noqa: E402


def _exported(tmp_path, monkeypatch, question: str, **answers) -> dict:
    monkeypatch.setenv(grading.GRADING_DIR_ENV, str(tmp_path))
    grading.export(question, **{name: (lambda value=value: value) for name, value in answers.items()})
    return grading.read_answers(tmp_path, question)


def _max_lenet(kernel_size: int = 2, padding: int = 0) -> nn.Sequential:
    return nn.Sequential(*[nn.MaxPool2d(kernel_size, 2, padding) if isinstance(layer, nn.AvgPool2d) else layer
                           for layer in d2l.lenet()])


def test_a_network_comes_back_with_its_layers_and_weights(tmp_path, monkeypatch):
    net = d2l.lenet_variant(activation='relu', pooling='max', batch_norm=True)
    net[1].running_mean += 1.5  # batch-norm statistics travel too
    back = _exported(tmp_path, monkeypatch, '1', net=net)['net']
    assert str(back) == str(net)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), back.state_dict().values()))
    X = torch.rand(3, 1, 28, 28)
    assert torch.equal(net.eval()(X), back.eval()(X))


def test_runs_recipes_tensors_and_titles_come_back_as_they_were(tmp_path, monkeypatch):
    history = d2l.TrainHistory(num_epochs=1, device='cpu', test_acc=[0.5], status='finished')
    recipe = d2l.Recipe(lr=0.1, augment=True)
    X = torch.arange(6.0).reshape(2, 3)
    back = _exported(tmp_path, monkeypatch, '2', history=history, recipe=recipe, X=X, titles=('a', 'b'))
    assert (back['history'], back['recipe'], back['titles']) == (history, recipe, ['a', 'b'])
    assert torch.equal(back['X'], X)


def test_an_answer_that_cannot_be_taken_comes_back_as_its_reason(tmp_path, monkeypatch):
    class Mine(nn.Module):
        def forward(self, x):
            return x

    monkeypatch.setenv(grading.GRADING_DIR_ENV, str(tmp_path))
    grading.export('1', missing=lambda: undefined_name,  # noqa: F821
                   custom=lambda: nn.Sequential(Mine()), wrapped=lambda: Mine(), array=lambda: object(),
                   broken=lambda: 1 / 0)
    back = grading.read_answers(tmp_path, '1')
    assert {name: str(value) for name, value in back.items()} == {
        'missing': "name 'undefined_name' is not defined: write your answer in its cell and run it",
        'custom': f"the grader rebuilds networks from torch.nn layers ({', '.join(sorted(grading.LAYERS))}); "
                  f"Mine is not one of them",
        'wrapped': 'the grader rebuilds networks made with nn.Sequential from torch.nn layers; this one is a Mine',
        'array': 'the grader cannot take a object',
        'broken': 'running your answer raised ZeroDivisionError: division by zero'}
    assert all(isinstance(value, grading.AnswerError) for value in back.values())


def test_a_chinese_kernel_exports_its_reasons_in_chinese(tmp_path, monkeypatch, chinese):
    class Mine(nn.Module):
        def forward(self, x):
            return x

    monkeypatch.setenv(grading.GRADING_DIR_ENV, str(tmp_path))
    grading.export('1', missing=lambda: undefined_name,  # noqa: F821
                   wrapped=lambda: Mine(), array=lambda: object(), broken=lambda: 1 / 0)
    back = grading.read_answers(tmp_path, '1')
    assert {name: str(value) for name, value in back.items()} == {
        'missing': "name 'undefined_name' is not defined：请在对应的单元格中写出解答并运行",
        'wrapped': '评分程序只能重建用 torch.nn 的层组成的 nn.Sequential 网络；这个网络是 Mine',
        'array': '评分程序无法接收 object 类型的答案',
        'broken': '运行你的解答时出现异常 ZeroDivisionError：division by zero'}
    huge = [{'type': 'Linear', 'args': {'in_features': 100_000, 'out_features': 100_000, 'bias': True}}]
    with pytest.raises(grading.AnswerError, match=r'^这个网络有 10,000,100,000 个参数；评分程序最多只重建 5,000,000 '):
        grading.rebuild_net(huge)
    with pytest.raises(grading.AnswerError, match=r"^'os.system' 不是评分程序能重建的层$"):
        grading.rebuild_net([{'type': 'os.system'}])
    (tmp_path / 'q1' / 'answers.json').write_text('{"X": {"kind": "tensor"}}', encoding='utf-8')
    assert str(grading.read_answers(tmp_path, '1')['X']) == '导出的 X 格式不符合预期'


def test_export_does_nothing_outside_grading(tmp_path, monkeypatch):
    monkeypatch.delenv(grading.GRADING_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    grading.export('1', net=lambda: 1 / 0)
    assert list(tmp_path.iterdir()) == []
    assert grading.read_answers(tmp_path, '1') is None


def test_a_network_too_large_or_malformed_is_refused_before_it_is_built():
    huge = [{'type': 'Linear', 'args': {'in_features': 100_000, 'out_features': 100_000, 'bias': True}}]
    with pytest.raises(grading.AnswerError, match=r'^the network has 10,000,100,000 parameters; the grader '
                                                  r'rebuilds at most 5,000,000$'):
        grading.rebuild_net(huge)
    for spec, message in [({'type': 'ReLU'}, 'a network is a list of layers'),
                          ([{'type': 'os.system'}], "'os.system' is not a layer the grader rebuilds"),
                          ([{'type': 'ReLU', 'args': {'inplace': True}}], 'unexpected arguments for ReLU'),
                          ([{'type': 'Linear', 'args': {'in_features': -1, 'out_features': 2}}], 'cannot be built'),
                          (['ReLU'], 'not a layer')]:
        with pytest.raises(grading.AnswerError, match=message):
            grading.rebuild_net(spec)
    spec = grading.describe_net(nn.Sequential(nn.Linear(2, 3)))
    with pytest.raises(grading.AnswerError, match=r"^the network's weights do not fit its layers"):
        grading.rebuild_net(spec, {'0.weight': torch.zeros(5, 5), '0.bias': torch.zeros(3)})


def test_exported_answers_behind_a_link_or_damaged_are_not_read(tmp_path, monkeypatch):
    other = tmp_path / 'other'
    _exported(other, monkeypatch, '1', titles=['x'])
    mine = tmp_path / 'mine'
    mine.mkdir()
    (mine / 'q1').symlink_to(other / 'q1')
    with pytest.raises(grading.AnswerError, match='a link to somewhere else'):
        grading.read_answers(mine, '1')
    (other / 'q1' / 'answers.json').write_text('{not json', encoding='utf-8')
    with pytest.raises(grading.AnswerError, match=r'cannot be read \(JSONDecodeError\)'):
        grading.read_answers(other, '1')
    (other / 'q1' / 'tensors.pt').unlink()
    with pytest.raises(grading.AnswerError, match='missing or too large'):
        grading.read_answers(other, '1')


def test_the_sandbox_binds_what_it_is_given_and_hides_the_rest(tmp_path):
    readable, writable = tmp_path / 'data', tmp_path / 'scratch'
    readable.mkdir()
    args = sandbox.mounts([readable, tmp_path / 'absent'], [writable])
    assert args[args.index(str(readable)) - 1] == '--ro-bind' and args[args.index(str(writable)) - 1] == '--bind'
    assert str(tmp_path / 'absent') not in args and str(REPO) not in args
    assert ['--dir', str(tmp_path)] == args[args.index(str(tmp_path)) - 1: args.index(str(tmp_path)) + 1]


def test_a_folder_reached_through_a_link_is_there_under_both_names(tmp_path):
    (tmp_path / 'real').mkdir()
    (tmp_path / 'link').symlink_to(tmp_path / 'real')
    args = sandbox.mounts([tmp_path / 'link'], [])
    bound = [args[i + 1] for i, arg in enumerate(args) if arg == '--ro-bind']
    assert str(tmp_path / 'link') in bound and str(tmp_path / 'real') in bound


@pytest.mark.parametrize('root', [True, False])
def test_the_kernel_spec_runs_the_kernel_in_the_sandbox_with_only_its_environment(tmp_path, monkeypatch, root):
    monkeypatch.setattr(sandbox, 'as_root', lambda: root)
    spec = sandbox.kernel_spec([tmp_path / 'ro'], [tmp_path], tmp_path / 'home', {'D2L_WORK_DIR': '/w'})
    argv = spec['argv']
    assert argv[0] == 'bwrap' and '--unshare-net' in argv and '--unshare-pid' in argv and '--clearenv' in argv
    assert argv[argv.index('D2L_WORK_DIR') + 1] == '/w' and spec['interrupt_mode'] == 'message'
    assert '{connection_file}' in argv and ('--unshare-user' in argv) is not root
    assert any(f'--reuid={sandbox.NOBODY}' in arg for arg in argv) is root


def test_prepare_replaces_a_link_left_where_a_folder_belongs(tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'keep').write_text('x', encoding='utf-8')
    planted = tmp_path / 'scratch'
    planted.symlink_to(outside)
    sandbox.clear(planted)
    assert planted.is_dir() and not planted.is_symlink() and (outside / 'keep').exists()
    (planted / 'old').write_text('x', encoding='utf-8')
    assert list(sandbox.clear(planted).iterdir()) == []


def test_verdicts_judge_the_exported_network_not_the_kernels_word(tmp_path, monkeypatch):
    answers = tmp_path / 'answers'
    monkeypatch.setenv(grading.GRADING_DIR_ENV, str(answers))
    grading.export('1', net=lambda: _max_lenet(3, 1))
    judged = verdicts.judge('lenet_ex1_max_pooling', answers)
    assert judged['ex1-q1-check'] == {'question': '1', 'right': False, 'message': 'Question 1: not yet: layer 2 pools '
                                      'with kernel_size=3, stride=2; the question asks for kernel_size=2, stride=2'}
    assert judged['ex1-q2-check'] == {'question': '2', 'right': False, 'message': 'Question 2: not yet: the grader '
                                      'received no answer: the check cell did not run to its end'}
    grading.export('1', net=lambda: _max_lenet())
    assert verdicts.judge('lenet_ex1_max_pooling', answers)['ex1-q1-check']['right']
    grading.export('1', net=lambda: nn.Sequential(_max_lenet()[0], nn.ReLU(), *_max_lenet()[2:]))
    assert verdicts.judge('lenet_ex1_max_pooling', answers)['ex1-q1-check']['message'] == (
        "Question 1: not yet: layer 1 of max_lenet() is ReLU(); the chapter's network has Sigmoid() there: "
        "change only the pooling layers")


def test_verdicts_on_exercise_2s_design_and_exercise_4s_maps(tmp_path, monkeypatch, data_root):
    monkeypatch.setenv('D2L_MAX_EXAMPLES', '300')
    monkeypatch.setenv('D2L_DATA_DIR', str(data_root))
    answers = tmp_path / 'answers'
    monkeypatch.setenv(grading.GRADING_DIR_ENV, str(answers))
    grading.export('1', net=lambda: d2l.lenet_variant(activation='relu'), recipe=lambda: d2l.Recipe())
    assert verdicts.judge('lenet_ex2_improve', answers)['ex2-q1-check']['right']
    grading.export('1', net=lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), recipe=lambda: d2l.Recipe())
    assert verdicts.judge('lenet_ex2_improve', answers)['ex2-q1-check']['message'].endswith('net has no nn.Conv2d layer')
    net = d2l.lenet()
    _, test_iter = d2l.load_data_fashion_mnist(batch_size=256)
    X, titles = d2l.pick_examples(test_iter, ['pullover', 'coat'])
    block1, block2 = d2l.feature_maps(net, X)
    grading.export('1', net=lambda: net, X=lambda: X, titles=lambda: titles, block1=lambda: block1,
                   block2=lambda: torch.rand_like(block2))
    message = verdicts.judge('lenet_ex4_feature_maps', answers)['ex4-q1-check']['message']
    assert message.startswith('Question 1: not yet: the maps of block 2 you give (shape (2, 16, 10, 10)) are not the '
                              'output of any layer')
    grading.export('1', net=lambda: net, X=lambda: X, titles=lambda: titles, block1=lambda: block1,
                   block2=lambda: block2)
    assert verdicts.judge('lenet_ex4_feature_maps', answers)['ex4-q1-check']['right']


def test_the_verdicts_command_prints_json(tmp_path, capsys):
    assert verdicts.main(['lenet_ex3_mnist', str(tmp_path)]) == 0
    judged = json.loads(capsys.readouterr().out)
    assert set(judged) == {'ex3-q1-check', 'ex3-q3-check'} and not any(v['right'] for v in judged.values())


def test_as_root_follows_the_effective_user():
    assert sandbox.as_root() == (os.geteuid() == 0)


def test_the_public_check_says_early_when_the_grader_cannot_rebuild_a_net():
    d2l.checks.check_rebuildable(d2l.lenet_variant(batch_norm=True))
    with pytest.raises(d2l.checks.CheckFailed, match=r'^the grader rebuilds networks made with nn.Sequential from '
                                                      r'torch.nn layers; this one is a Linear$'):
        d2l.checks.check_rebuildable(nn.Linear(2, 2))


def test_the_sandbox_says_why_it_cannot_run(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, 'which', lambda name: None)
    assert sandbox.problem() == 'bubblewrap is not installed (Debian and Ubuntu: sudo apt-get install bubblewrap)'
    monkeypatch.setattr(sandbox.sys, 'platform', 'darwin')
    assert sandbox.problem() == 'sandboxing needs Linux (this is darwin)'


def test_a_sandbox_that_fails_to_start_is_reported_with_bwraps_words(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, 'which', lambda name: '/usr/bin/bwrap')
    failed = sandbox.subprocess.CompletedProcess([], 1, '', 'bwrap: No permissions to creating new namespace\n')
    monkeypatch.setattr(sandbox.subprocess, 'run', lambda *args, **kwargs: failed)
    assert sandbox.problem() == ('bubblewrap cannot create a sandbox here (bwrap: No permissions to creating new '
                                 'namespace); user namespaces may be disabled')


def test_a_network_with_named_layers_comes_back_with_its_names(tmp_path, monkeypatch):
    from collections import OrderedDict
    net = nn.Sequential(OrderedDict([('conv', nn.Conv2d(1, 2, 3)), ('act', nn.ReLU()), ('flat', nn.Flatten()),
                                     ('out', nn.Linear(2 * 26 * 26, 10))]))
    d2l.checks.check_rebuildable(net)
    back = _exported(tmp_path, monkeypatch, '1', net=net)['net']
    assert [name for name, _ in back.named_children()] == ['conv', 'act', 'flat', 'out']
    X = torch.rand(2, 1, 28, 28)
    assert torch.equal(net(X), back(X))
    with pytest.raises(grading.AnswerError, match="not a layer name: 'a.b'"):
        grading.rebuild_net([{'type': 'ReLU', 'name': 'a.b'}])


def test_the_system_folders_are_there_as_links_or_read_only(tmp_path):
    args = sandbox.mounts([], [])
    for top in ('/bin', '/lib', '/sbin'):
        if os.path.islink(top):
            assert args[args.index(top) - 2:args.index(top) + 1] == ['--symlink', os.readlink(top), top]
        else:
            assert args[args.index(top) - 1:args.index(top) + 2] == ['--ro-bind', top, top]


def test_prepare_replaces_a_link_to_a_folder_and_makes_missing_parents(tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    planted = tmp_path / 'scratch'
    planted.symlink_to(outside)  # a link to a real folder: still not the grader's folder
    assert sandbox.prepare(planted) == planted and planted.is_dir() and not planted.is_symlink()
    nested = sandbox.prepare(tmp_path / 'a' / 'b' / 'c')
    assert nested.is_dir()


@pytest.mark.parametrize('root', [True, False])
def test_the_kernel_spec_starts_ipykernel_with_the_caches_at_home(tmp_path, monkeypatch, root):
    monkeypatch.setattr(sandbox, 'as_root', lambda: root)
    argv = sandbox.kernel_spec([], [tmp_path], tmp_path / 'home', {})['argv']
    setenv = {argv[i + 1]: argv[i + 2] for i, arg in enumerate(argv) if arg == '--setenv'}
    assert {key: setenv[key] for key in ('HOME', 'TMPDIR', 'MPLCONFIGDIR', 'XDG_CACHE_HOME')} == \
        dict.fromkeys(('HOME', 'TMPDIR', 'MPLCONFIGDIR', 'XDG_CACHE_HOME'), str(tmp_path / 'home'))
    if root:
        kept = [argv[i + 1] for i, arg in enumerate(argv) if arg == '--cap-add']
        assert kept == [f'CAP_{cap}' for cap in ('CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'SETUID',
                                                  'SETGID', 'SETPCAP')]
        assert argv[argv.index('--') + 1:argv.index('--') + 3] == ['/bin/sh', '-c']
        assert f'"{sys.executable}" -m ipykernel_launcher -f "$HOME/connection.json"' in argv[argv.index('--') + 3]
    else:
        assert argv[argv.index('--'):] == ['--', sys.executable, '-m', 'ipykernel_launcher', '-f',
                                           '{connection_file}']


def test_nested_sequentials_come_back_nested(tmp_path, monkeypatch):
    net = nn.Sequential(nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU()), nn.Flatten(),
                        nn.Sequential(nn.Linear(6 * 28 * 28, 10)))
    back = _exported(tmp_path, monkeypatch, '1', net=net)['net']
    assert [type(m) for m in back] == [nn.Sequential, nn.Flatten, nn.Sequential]
    assert grading.describe_net(back) == grading.describe_net(net)
    assert grading.describe_net(net)[0] == {'type': 'Sequential', 'layers': grading.describe_net(net[0])}
    X = torch.rand(2, 1, 28, 28)
    assert torch.equal(back(X), net(X))


def test_a_network_that_is_not_a_list_of_layers_is_refused():
    with pytest.raises(grading.AnswerError, match='^a network is a list of layers$'):
        grading.rebuild_net({'type': 'Linear'})
