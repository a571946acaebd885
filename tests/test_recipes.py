"""Recipe: its checks, the flips, the optimizer and schedule it builds, and the run through train_ch6."""
import importlib
import math
import re

import pytest
import torch
from torch import nn

import d2l_local as d2l
from d2l_local.exercises import recipes
chapter = importlib.import_module("d2l_local.saved.lenet")  # the module (d2l_local.saved.lenet is the function)


# --- Recipe -------------------------------------------------------------------------------------------

def test_recipe_defaults_are_the_chapters():
    assert d2l.Recipe() == d2l.Recipe(lr=0.9, num_epochs=10, optimizer="sgd", momentum=0.0, weight_decay=0.0,
                                      schedule="constant", init="xavier", augment=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0), r"lr must be a positive number, got 0"),
    (dict(lr="fast"), r"lr must be a positive number, got 'fast'"),
    (dict(lr=True), r"lr must be a positive number, got True"),
    (dict(num_epochs=0), r"num_epochs must be a positive int, got 0"),
    (dict(num_epochs=2.0), r"num_epochs must be a positive int, got 2.0"),
    (dict(optimizer="rmsprop"), r"optimizer must be 'sgd' or 'adamw', got 'rmsprop'"),
    (dict(momentum=1.0), r"momentum must be a number from 0 \(none\) up to but not including 1, got 1.0"),
    (dict(momentum=-0.1), r"momentum must be .* got -0.1"),
    (dict(weight_decay=-1e-4), r"weight_decay must be a number >= 0, got -0.0001"),
    (dict(schedule="cosine"), r"schedule must be 'constant' or 'onecycle', got 'cosine'"),
    (dict(init="zeros"), r"init must be 'xavier', 'kaiming' or 'default', got 'zeros'"),
    (dict(augment="yes"), r"augment must be True or False, got 'yes'"),
])
def test_recipe_explains_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=f"^{match}$"):
        d2l.Recipe(**kwargs)


# --- flips --------------------------------------------------------------------------------------------

def numbered_images(n):
    """n images that differ from each other and from their own mirror image."""
    return torch.arange(n * 28 * 28, dtype=torch.float32).reshape(n, 1, 28, 28)


def test_random_flip_mirrors_exactly_the_chosen_images():
    X = numbered_images(1000)
    before = X.clone()
    out = d2l.random_flip(X, generator=torch.Generator().manual_seed(1))
    mirrored = torch.flip(X, dims=[3])
    was_flipped = (out == mirrored).flatten(1).all(1)
    kept = (out == X).flatten(1).all(1)
    assert bool((was_flipped ^ kept).all())  # every image is exactly one of the two, never a mix
    assert 400 < int(was_flipped.sum()) < 600  # about half (binomial, sd 16)
    assert torch.equal(X, before)  # the input is not changed
    again = d2l.random_flip(X, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out, again)  # the same generator state chooses the same images


def test_random_flip_uses_torchs_generator_by_default():
    X = numbered_images(64)
    torch.manual_seed(3)
    first = d2l.random_flip(X)
    torch.manual_seed(3)
    assert torch.equal(d2l.random_flip(X), first)


@pytest.mark.parametrize("X, shape", [(torch.zeros(28, 28), r"\(28, 28\)"), ([[0.0]], "list")])
def test_random_flip_needs_a_batch_of_images(X, shape):
    with pytest.raises(ValueError, match=r"random_flip needs a batch of images of shape \(N, C, H, W\), got " + shape):
        d2l.random_flip(X)


def test_random_flips_keeps_labels_paired():
    X, y = numbered_images(300), torch.arange(300)
    data = d2l.RandomFlips(d2l.TensorBatches(X, y, 64, shuffle=True))
    assert len(data) == 5
    seen, flipped = [], 0
    for Xb, yb in data:
        for image, label in zip(Xb, yb):
            original = X[label]
            if torch.equal(image, torch.flip(original, dims=[2])):
                flipped += 1
            else:
                assert torch.equal(image, original)
            seen.append(int(label))
    assert sorted(seen) == list(range(300))
    assert 100 < flipped < 200


# --- optimizer and schedule ---------------------------------------------------------------------------

def test_sgd_without_momentum_is_plain_sgd():
    net = nn.Linear(3, 2)
    opt = d2l.make_optimizer(net, d2l.Recipe(lr=0.3, weight_decay=1e-3))
    group = opt.param_groups[0]
    assert type(opt) is torch.optim.SGD
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (0.3, 0.0, False, 1e-3)
    assert [id(p) for p in group["params"]] == [id(p) for p in net.parameters()]


def test_nesterov_sgd_steps_as_computed_by_hand():
    lr, mu, wd = 0.1, 0.9, 0.01
    w = nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = d2l.make_optimizer(nn.ParameterList([w]), d2l.Recipe(lr=lr, momentum=mu, weight_decay=wd))
    expected, buf = torch.tensor([1.0, -2.0]), None
    for grad in (torch.tensor([0.5, 0.25]), torch.tensor([-1.0, 2.0])):
        w.grad = grad.clone()
        opt.step()
        g = grad + wd * expected  # weight decay adds wd * w to the gradient
        buf = g if buf is None else mu * buf + g
        expected = expected - lr * (g + mu * buf)  # Nesterov: look ahead along the momentum
        assert torch.allclose(w.detach(), expected, atol=1e-7)


def test_adamw_gets_lr_and_weight_decay():
    opt = d2l.make_optimizer(nn.Linear(3, 2), d2l.Recipe(lr=1e-3, optimizer="adamw", weight_decay=0.05))
    assert type(opt) is torch.optim.AdamW
    assert (opt.param_groups[0]["lr"], opt.param_groups[0]["weight_decay"]) == (1e-3, 0.05)


def one_cycle_by_hand(step, total, max_lr):
    """OneCycleLR's documented shape: cosine from max_lr/25 up to max_lr over 30% of the steps, then down to
    max_lr/25/1e4."""
    initial, peak_step = max_lr / 25, 0.3 * total - 1
    if step <= peak_step:
        pct, start, end = step / peak_step, initial, max_lr
    else:
        pct, start, end = (step - peak_step) / (total - 1 - peak_step), max_lr, initial / 1e4
    return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_onecycle_lr_follows_the_schedule_step_by_step(optimizer):
    recipe = d2l.Recipe(lr=0.5, num_epochs=2, optimizer=optimizer, schedule="onecycle")
    w = nn.Parameter(torch.zeros(2))
    opt = d2l.make_optimizer(nn.ParameterList([w]), recipe, steps_per_epoch=10)
    twin = torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.5)  # the same schedule, stepped by hand
    reference = torch.optim.lr_scheduler.OneCycleLR(twin, max_lr=0.5, total_steps=20, cycle_momentum=False)
    used = []
    for step in range(20):
        used.append(opt.param_groups[0]["lr"])  # the lr this step uses
        assert used[-1] == pytest.approx(twin.param_groups[0]["lr"], rel=1e-12)
        assert used[-1] == pytest.approx(one_cycle_by_hand(step, 20, 0.5), rel=1e-9)
        w.grad = torch.ones(2)
        opt.step()
        twin.step()
        reference.step()
    assert max(used) == pytest.approx(0.5) and used.index(max(used)) == 5  # the peak at 30% of the steps
    assert used[0] == pytest.approx(0.5 / 25)
    w.grad = torch.ones(2)
    opt.step()  # one step more than scheduled: no error, the lr stays at the schedule's end
    assert opt.param_groups[0]["lr"] == pytest.approx(used[-1]) == pytest.approx(0.5 / 25 / 1e4)


@pytest.mark.parametrize("steps", [None, 0, 2.5, True])
def test_onecycle_needs_steps_per_epoch(steps):
    with pytest.raises(ValueError, match=r"the 'onecycle' schedule needs steps_per_epoch, the number of batches "
                                         r"per epoch \(len\(train_iter\)\), as a positive int; got " + re.escape(repr(steps))):
        d2l.make_optimizer(nn.Linear(2, 2), d2l.Recipe(schedule="onecycle"), steps)


def test_a_recipe_must_be_a_recipe():
    with pytest.raises(TypeError, match=r"expected a d2l.Recipe, e.g. d2l.Recipe\(lr=0.1, num_epochs=2\), got dict"):
        d2l.make_optimizer(nn.Linear(2, 2), {"lr": 0.1})
    with pytest.raises(TypeError, match="expected a d2l.Recipe"):
        d2l.train_with_recipe(nn.Linear(2, 2), [], [], {"lr": 0.1})


# --- train_with_recipe --------------------------------------------------------------------------------

@pytest.fixture
def calls(monkeypatch):
    """Replace train_ch6 by a recorder: what train_with_recipe hands to the one training loop."""
    seen = []

    def fake_train_ch6(net, train_iter, test_iter, num_epochs, lr, device, *, optimizer=None, init=None):
        seen.append(dict(net=net, train_iter=train_iter, test_iter=test_iter, num_epochs=num_epochs, lr=lr,
                         device=device, optimizer=optimizer, init=init))
        return d2l.TrainHistory(num_epochs, str(device))

    monkeypatch.setattr(chapter, "train_ch6", fake_train_ch6)
    return seen


def test_train_with_recipe_hands_the_recipe_to_train_ch6(calls):
    net, train_iter, test_iter = d2l.lenet_variant(), [(torch.zeros(4, 1, 28, 28), torch.zeros(4))] * 3, object()
    recipe = d2l.Recipe(lr=0.2, num_epochs=3, momentum=0.9, weight_decay=5e-4, init="kaiming", augment=True)
    history = d2l.train_with_recipe(net, train_iter, test_iter, recipe, device="cpu")
    (call,) = calls
    assert history.num_epochs == 3 and call["net"] is net and call["test_iter"] is test_iter
    assert (call["num_epochs"], call["lr"], call["device"]) == (3, 0.2, torch.device("cpu"))
    opt = call["optimizer"]
    assert type(opt) is torch.optim.SGD
    group = opt.param_groups[0]
    assert (group["nesterov"], group["momentum"], group["weight_decay"], group["lr"]) == (True, 0.9, 5e-4, 0.2)
    assert [id(p) for p in group["params"]] == [id(p) for p in net.parameters()]  # after the move to the device
    assert call["init"] is recipes.INIT_SCHEMES["kaiming"]
    assert isinstance(call["train_iter"], d2l.RandomFlips) and call["train_iter"].data_iter is train_iter


@pytest.mark.parametrize("init, scheme", [("xavier", nn.init.xavier_uniform_), ("default", None)])
def test_train_with_recipe_without_flips(calls, init, scheme):
    train_iter = [(torch.zeros(4, 1, 28, 28), torch.zeros(4))]
    d2l.train_with_recipe(d2l.lenet_variant(), train_iter, [], d2l.Recipe(init=init, optimizer="adamw"), "cpu")
    assert calls[0]["train_iter"] is train_iter and calls[0]["init"] is scheme
    assert type(calls[0]["optimizer"]) is torch.optim.AdamW


def test_train_with_recipe_checks_the_device_first(calls):
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        d2l.train_with_recipe(d2l.lenet_variant(), [], [], d2l.Recipe(), device="gpu0")
    assert calls == []


@pytest.mark.slow
def test_train_with_recipe_trains_with_the_whole_recipe(small, capsys):
    train_iter, test_iter = small
    d2l.set_seed(0)
    net = d2l.lenet_variant(activation="relu", pooling="max", batch_norm=True)
    recipe = d2l.Recipe(lr=0.1, num_epochs=2, momentum=0.9, weight_decay=5e-4, schedule="onecycle",
                        init="kaiming", augment=True)
    h = d2l.train_with_recipe(net, train_iter, test_iter, recipe, device="cpu")
    assert h.status == "finished" and h.steps == 2 * len(train_iter) and len(h.test_acc) == 2
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.test_acc[-1] > 0.2  # above chance (0.1) after 8 small batches
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "training on cpu"
    assert lines[-2] == f"loss {h.train_loss[-1]:.3f}, train acc {h.train_acc[-1]:.3f}, test acc {h.test_acc[-1]:.3f}"
    assert re.fullmatch(r"[\d.]+ examples/sec on cpu", lines[-1])


@pytest.mark.slow
def test_kaiming_init_redraws_the_weights_and_default_keeps_them(small):
    train_iter, test_iter = small
    layers = (nn.Linear, nn.Conv2d)
    for init in ("default", "kaiming"):
        torch.manual_seed(0)
        net = d2l.lenet_variant(activation="relu")
        before = [m.weight.detach().clone() for m in net.modules() if isinstance(m, layers)]
        # lr 1e-12: the training steps cannot move float32 weights, so only the init can
        d2l.train_with_recipe(net, train_iter, test_iter, d2l.Recipe(lr=1e-12, num_epochs=1, init=init), "cpu")
        after = [m.weight.detach() for m in net.modules() if isinstance(m, layers)]
        for w0, w1 in zip(before, after):
            fan_in = w0[0].numel()
            pytorch_bound, kaiming_bound = 1 / math.sqrt(fan_in), math.sqrt(6 / fan_in)
            assert float(w0.abs().max()) <= pytorch_bound + 1e-6
            if init == "default":
                assert torch.allclose(w0, w1, atol=1e-6)
            else:
                assert not torch.allclose(w0, w1, atol=1e-3)
                assert float(w1.abs().max()) <= kaiming_bound + 1e-6
                if w1.numel() >= 1000:  # enough draws to reach past PyTorch's smaller bound
                    assert float(w1.abs().max()) > 1.5 * pytorch_bound


def test_recipe_accepts_the_edges_of_each_range():
    recipe = d2l.Recipe(lr=1e-9, num_epochs=1, momentum=0.999, weight_decay=0.0, optimizer="adamw",
                        schedule="onecycle", init="default", augment=True)
    assert (recipe.lr, recipe.num_epochs, recipe.momentum) == (1e-9, 1, 0.999)
    assert d2l.Recipe(lr=3, momentum=0).lr == 3  # ints are numbers too


@pytest.mark.parametrize("kwargs, match", [
    (dict(momentum="0.9"), r"^momentum must be a number from 0 \(none\) up to but not including 1, got '0\.9'$"),
    (dict(momentum=True), r"^momentum must be .* got True$"),
    (dict(weight_decay=False), r"^weight_decay must be a number >= 0, got False$"),
    (dict(num_epochs=True), r"^num_epochs must be a positive int, got True$"),
    (dict(lr=float("nan")), r"^lr must be a positive number, got nan$"),
])
def test_recipe_refuses_lookalikes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        d2l.Recipe(**kwargs)


def test_kaiming_init_is_torchs_kaiming_uniform_for_relu():
    w, reference = torch.empty(64, 100), torch.empty(64, 100)
    torch.manual_seed(0)
    out = recipes.INIT_SCHEMES["kaiming"](w)
    torch.manual_seed(0)
    nn.init.kaiming_uniform_(reference, nonlinearity="relu")
    assert out is w and torch.equal(w, reference)
    assert float(w.abs().max()) <= math.sqrt(6 / 100) and float(w.abs().max()) > 0.9 * math.sqrt(6 / 100)
    assert recipes.INIT_SCHEMES["xavier"] is nn.init.xavier_uniform_ and recipes.INIT_SCHEMES["default"] is None


def test_random_flip_draws_on_the_generators_device_and_flips_the_width():
    X = numbered_images(6)
    g = torch.Generator().manual_seed(4)
    chosen = torch.rand(6, generator=torch.Generator().manual_seed(4)) < 0.5
    out = d2l.random_flip(X, generator=g)
    for image, original, flip in zip(out, X, chosen):
        assert torch.equal(image, original.flip(-1) if flip else original)
    assert 0 < int(chosen.sum()) < 6



def test_random_flip_moves_the_draws_to_the_images_device():
    """Images on another device than the generator (here torch's shape-only 'meta' device, as a GPU would be)."""
    X = torch.empty(4, 1, 2, 2, device="meta")
    out = d2l.random_flip(X, generator=torch.Generator().manual_seed(0))
    assert out.device.type == "meta" and out.shape == X.shape


def test_adamw_takes_the_recipes_lr_and_one_cycle_leaves_momentum_alone():
    net = nn.Linear(2, 2)
    assert d2l.make_optimizer(net, d2l.Recipe(optimizer="adamw", lr=0.003)).param_groups[0]["lr"] == 0.003
    opt = d2l.make_optimizer(net, d2l.Recipe(lr=0.2, momentum=0.9, schedule="onecycle"), steps_per_epoch=5)
    for _ in range(10):
        opt.step()
    assert opt.param_groups[0]["momentum"] == 0.9  # OneCycleLR cycles momentum only when asked to
