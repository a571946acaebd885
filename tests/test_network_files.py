"""save_network / load_network: an untrained design and its recipe go from exercise 2 to exercise 3."""
import os
import re
import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

import d2l_local as d2l
from d2l_local.exercises import network_files

RECIPE = d2l.Recipe(lr=0.2, num_epochs=10, momentum=0.9, weight_decay=5e-4, schedule="onecycle", init="kaiming",
                    augment=True)


def chapter_lenet():
    return d2l.lenet(), d2l.Recipe()


FALLBACK = ("the chapter's LeNet and recipe", chapter_lenet)


def trained_looking_net():
    """A batch-norm variant whose weights and batch-norm statistics are no longer the initial ones."""
    torch.manual_seed(0)
    net = d2l.lenet_variant(channels=(16, 32), activation="relu", pooling="max", dense=(96,), batch_norm=True)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    net(torch.rand(8, 1, 28, 28))  # training mode: updates the running statistics
    return net


def test_round_trip_gives_the_same_design_untrained(tmp_path):
    net = trained_looking_net()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    path = d2l.save_network(net, "improved_lenet", RECIPE, folder=tmp_path)
    assert path == tmp_path / "improved_lenet.pt" and sorted(os.listdir(tmp_path)) == ["improved_lenet.pt"]
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())  # net itself is unchanged
    loaded, recipe = d2l.load_network("improved_lenet", folder=tmp_path)
    assert recipe == RECIPE
    assert repr(loaded) == repr(net) and d2l.num_params(loaded) == d2l.num_params(net) == 91_162
    assert loaded.training
    for (name, p), (_, q) in zip(loaded.named_parameters(), net.named_parameters()):
        assert p.shape == q.shape and not torch.allclose(p, q), name  # reset, not the trained values
    bn = loaded[1]
    assert torch.equal(bn.weight, torch.ones(16)) and torch.equal(bn.bias, torch.zeros(16))
    assert torch.equal(bn.running_mean, torch.zeros(16)) and torch.equal(bn.running_var, torch.ones(16))
    assert int(bn.num_batches_tracked) == 0
    conv = loaded[0].weight.detach()  # PyTorch's own initialisation: uniform within 1/sqrt(fan_in)
    assert float(conv.abs().max()) <= 1 / 5 + 1e-6 and float(conv.std()) > 0.05
    assert loaded(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_saved_without_a_recipe_loads_the_default_recipe(tmp_path):
    d2l.save_network(d2l.lenet(), "plain", folder=tmp_path)
    net, recipe = d2l.load_network("plain", folder=tmp_path)
    assert recipe == d2l.Recipe() and repr(net) == repr(d2l.lenet())


def test_saving_again_replaces_the_file_atomically(tmp_path, monkeypatch):
    d2l.save_network(d2l.lenet(), "net", folder=tmp_path)
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(network_files.os, "replace", lambda src, dst: (replaced.append((Path(src), Path(dst))),
                                                                 real_replace(src, dst)))
    d2l.save_network(d2l.lenet_variant(activation="relu"), "net", RECIPE, folder=tmp_path)
    (src, dst), = replaced
    assert src.parent == tmp_path and src.name.endswith(".tmp") and dst == tmp_path / "net.pt"
    assert os.listdir(tmp_path) == ["net.pt"]
    net, recipe = d2l.load_network("net", folder=tmp_path)
    assert recipe == RECIPE and isinstance(net[1], nn.ReLU)


def test_a_failed_save_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    d2l.save_network(d2l.lenet(), "net", RECIPE, folder=tmp_path)
    before = (tmp_path / "net.pt").read_bytes()

    def disk_full(obj, f):
        f.write(b"half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(network_files.torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        d2l.save_network(d2l.lenet(), "net", folder=tmp_path)
    assert os.listdir(tmp_path) == ["net.pt"] and (tmp_path / "net.pt").read_bytes() == before


def test_the_work_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("D2L_WORK_DIR", str(tmp_path / "from_env"))
    path = d2l.save_network(d2l.lenet(), "net")
    assert path == tmp_path / "from_env" / "net.pt" and path.is_file()
    assert d2l.load_network("net")[1] == d2l.Recipe()
    monkeypatch.delenv("D2L_WORK_DIR")
    repo = Path(__file__).resolve().parent.parent  # a course checkout: its own work/ folder, like data/
    assert network_files.work_dir() == network_files.DEFAULT_WORK_DIR == repo / "work"
    assert network_files.work_dir(tmp_path) == tmp_path


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "net.pt/", 3])
def test_names_are_plain_file_names(tmp_path, name):
    with pytest.raises(ValueError, match=r"name must be a file name without a folder or extension"):
        d2l.save_network(d2l.lenet(), name, folder=tmp_path)
    assert os.listdir(tmp_path) == []


def test_save_checks_its_arguments(tmp_path):
    with pytest.raises(TypeError, match="net must be a torch.nn.Module, got function"):
        d2l.save_network(d2l.lenet, "net", folder=tmp_path)
    with pytest.raises(TypeError, match="recipe must be a d2l.Recipe or None, got dict"):
        d2l.save_network(d2l.lenet(), "net", {"lr": 0.1}, folder=tmp_path)


def test_missing_file_with_a_fallback_says_so_and_uses_it(tmp_path, capsys):
    net, recipe = d2l.load_network("improved_lenet", fallback=FALLBACK, folder=tmp_path)
    assert capsys.readouterr().out == (f"There is no saved network 'improved_lenet' in {tmp_path}, so this notebook "
                                       f"uses the chapter's LeNet and recipe instead. Run exercise 2 to its end: it "
                                       f"saves the network with d2l.save_network(net, 'improved_lenet', recipe).\n")
    assert repr(net) == repr(d2l.lenet()) and recipe == d2l.Recipe()


def test_missing_file_without_a_fallback_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"There is no saved network 'improved_lenet' in {tmp_path}. Run exercise 2 to its end: it "
            f"saves the network with d2l.save_network(net, 'improved_lenet', recipe).")):
        d2l.load_network("improved_lenet", folder=tmp_path)


@pytest.mark.parametrize("content, reason", [
    (b"not a pickle", r"could not be read \(UnpicklingError: "),
    (b"", r"could not be read \(EOFError: "),
])
def test_unreadable_file(tmp_path, capsys, content, reason):
    (tmp_path / "net.pt").write_bytes(content)
    with pytest.raises(ValueError, match=rf"The file {re.escape(str(tmp_path / 'net.pt'))} {reason}.*\. Run "
                                         r"exercise 2 to its end"):
        d2l.load_network("net", folder=tmp_path)
    assert d2l.load_network("net", fallback=FALLBACK, folder=tmp_path)[1] == d2l.Recipe()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and re.match(rf"The file .*net\.pt {reason}.*\), so this notebook uses the "
                                             r"chapter's LeNet and recipe instead\. Run exercise 2 to its end: it saves "
                                             r"the network with d2l\.save_network\(net, 'net', recipe\)\.\n$", out)


@pytest.mark.parametrize("payload, reason", [
    ({"weights": 1}, r"was not written by d2l.save_network"),
    ({"format": 1, "net": nn.Linear(2, 2), "recipe": {"lr": 0.1, "warmup": 3}},
     r"The recipe saved in .* does not fit this version of d2l_local \(TypeError: "),
])
def test_a_file_that_is_not_a_saved_network(tmp_path, payload, reason):
    torch.save(payload, tmp_path / "net.pt")
    with pytest.raises(ValueError, match=reason):
        d2l.load_network("net", folder=tmp_path)


def test_a_class_defined_in_the_saving_notebook(tmp_path, monkeypatch, capsys):
    main = sys.modules["__main__"]

    class NotebookNet(nn.Module):  # as if defined in a cell of exercise 2
        def __init__(self):
            super().__init__()
            self.body = d2l.lenet_variant(activation="relu")

        def forward(self, X):
            return self.body(X)

    NotebookNet.__module__, NotebookNet.__qualname__ = "__main__", "NotebookNet"
    monkeypatch.setattr(main, "NotebookNet", NotebookNet, raising=False)
    d2l.save_network(NotebookNet(), "custom", RECIPE, folder=tmp_path)
    assert capsys.readouterr().out == (f"Saved {tmp_path / 'custom.pt'}; note: NotebookNet is defined in this "
                                       f"notebook, so a notebook that loads the network must define it too.\n")
    net, recipe = d2l.load_network("custom", folder=tmp_path)  # the same notebook can load it
    assert type(net) is NotebookNet and recipe == RECIPE

    monkeypatch.delattr(main, "NotebookNet")  # exercise 3's notebook does not define it
    message = (f"The network saved in {tmp_path / 'custom.pt'} is built from NotebookNet, which is defined in "
               f"another notebook, not here")
    with pytest.raises(ValueError, match=re.escape(
            f"{message}. Define NotebookNet in this notebook (copy its cell) before loading, or save a network "
            f"built by d2l.lenet_variant, which every notebook can load.")):
        d2l.load_network("custom", folder=tmp_path)
    net, recipe = d2l.load_network("custom", fallback=FALLBACK, folder=tmp_path)
    assert capsys.readouterr().out == (f"{message}, so this notebook uses the chapter's LeNet and recipe instead. "
                                       f"Define NotebookNet in this notebook (copy its cell) before loading, or save "
                                       f"a network built by d2l.lenet_variant, which every notebook can load.\n")
    assert repr(net) == repr(d2l.lenet()) and recipe == d2l.Recipe()


def test_a_class_from_a_module_that_is_gone(tmp_path, monkeypatch, capsys):
    module = types.ModuleType("ex2_helpers")
    exec("from torch import nn\nclass Wide(nn.Linear):\n    pass\n", module.__dict__)
    monkeypatch.setitem(sys.modules, "ex2_helpers", module)
    d2l.save_network(module.Wide(784, 10), "wide", folder=tmp_path)
    monkeypatch.delitem(sys.modules, "ex2_helpers")
    d2l.load_network("wide", fallback=FALLBACK, folder=tmp_path)
    assert capsys.readouterr().out.startswith(
        f"The network saved in {tmp_path / 'wide.pt'} is built from ex2_helpers, which is defined in another "
        f"notebook, not here, so this notebook uses")


@pytest.mark.parametrize("fallback", [chapter_lenet, ("text",), ("text", "not callable"), (chapter_lenet, "text")])
def test_fallback_must_be_a_description_and_a_function(tmp_path, fallback):
    with pytest.raises(TypeError, match=r"^fallback must be a pair \(description, make\): a short text saying what "
                                        r"make\(\) builds, and a function returning \(net, recipe\); got "):
        d2l.load_network("net", fallback=fallback, folder=tmp_path)


def test_fallback_must_return_a_network_and_a_recipe(tmp_path):
    with pytest.raises(TypeError, match=r"the fallback for a LeNet must return \(net, recipe\)"):
        d2l.load_network("net", fallback=("a LeNet", d2l.lenet), folder=tmp_path)


@pytest.mark.parametrize("payload", [{"format": 2, "net": nn.Linear(2, 2)}, {"format": 1, "net": "a net"},
                                     [1, 2], {"format": 1}])
def test_only_what_save_network_writes_is_loaded(tmp_path, payload):
    torch.save(payload, tmp_path / "net.pt")
    with pytest.raises(ValueError, match=rf"^The file {re.escape(str(tmp_path / 'net.pt'))} was not written by "
                                         r"d2l\.save_network\. Run exercise 2 to its end: it saves the network with "
                                         r"d2l\.save_network\(net, 'net', recipe\)\.$"):
        d2l.load_network("net", folder=tmp_path)


def test_an_eval_mode_net_is_saved_in_training_mode_and_left_as_it_was(tmp_path):
    net = d2l.lenet_variant(batch_norm=True).eval()
    d2l.save_network(net, "net", folder=tmp_path)
    loaded, _ = d2l.load_network("net", folder=tmp_path)
    assert not net.training and loaded.training and all(m.training for m in loaded.modules())
    assert next(loaded.parameters()).device.type == "cpu"


def test_a_recipe_that_no_longer_validates(tmp_path):
    torch.save({"format": 1, "net": nn.Linear(2, 2), "recipe": {"lr": -1.0}}, tmp_path / "net.pt")
    with pytest.raises(ValueError, match=r"does not fit this version of d2l_local \(ValueError: lr must be a positive "
                                         r"number, got -1\.0\)"):
        d2l.load_network("net", folder=tmp_path)


def test_first_line_of_an_error_is_cut_at_120_characters():
    assert network_files._first_line(ValueError("x" * 120 + "\nmore")) == "ValueError: " + "x" * 120
    assert network_files._first_line(ValueError("y" * 121)) == "ValueError: " + "y" * 120 + "..."
    assert network_files._first_line(OSError("  \n  padded  \n")) == "OSError: padded"
    assert network_files._first_line(EOFError()) == "EOFError: "


def test_the_default_work_folder_outside_a_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("D2L_WORK_DIR", raising=False)
    monkeypatch.setattr(network_files, "DEFAULT_WORK_DIR", tmp_path / "cache")
    assert network_files.work_dir() == tmp_path / "cache"
    monkeypatch.setenv("D2L_WORK_DIR", "~/exercises")
    assert network_files.work_dir() == Path.home() / "exercises" and network_files.work_dir("~/x") == Path.home() / "x"


def test_a_missing_class_without_a_name_is_quoted(tmp_path, monkeypatch):
    d2l.save_network(d2l.lenet(), "net", folder=tmp_path)

    def unpickling_fails(*args, **kwargs):
        raise ImportError("cannot import the helper")  # no module name, no "attribute '...'"

    monkeypatch.setattr(network_files.torch, "load", unpickling_fails)
    with pytest.raises(ValueError, match=r"is built from ImportError: cannot import the helper, which is defined in "
                                         r"another notebook, not here\. Define ImportError: cannot import the helper"):
        d2l.load_network("net", folder=tmp_path)
