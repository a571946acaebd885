"""train_ch6's safety nets: early shape checks, nan losses, interrupts, devices, reproducibility."""
from __future__ import annotations

import signal
import types

import pytest
import torch
from torch import nn

import d2l_local as d2l


def lenet(num_outputs: int = 10) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, num_outputs))


@pytest.fixture(scope="module")
def small(data_root):
    """2048 training and 512 test examples of the real data: 8 and 2 batches of 256."""
    train_iter, test_iter = d2l.load_data_fashion_mnist(256, root=data_root)
    return (d2l.TensorBatches(train_iter.stored_images[:2048], train_iter.labels[:2048], 256, shuffle=True),
            d2l.TensorBatches(test_iter.stored_images[:512], test_iter.labels[:512], 256))


def test_history_records_every_plot_point_and_epoch(small, capsys):
    history = d2l.train_ch6(lenet(), *small, num_epochs=2, lr=0.9, device="cpu")
    assert history.status == "finished" and d2l.last_history() is history
    assert history.steps == 16 and history.examples == 2 * 2048
    assert history.epoch == pytest.approx([i / 8 for i in range(1, 17)])  # 8 batches: plot after each
    assert len(history.test_acc) == 2 and all(0 <= a <= 1 for a in history.test_acc)
    out = capsys.readouterr().out
    assert "<Figure" not in out
    assert f"test acc {history.test_acc[-1]:.3f}" in out and "examples/sec on cpu" in out


def test_same_seed_same_metrics(small):
    runs = []
    for _ in range(2):
        d2l.set_seed(7)
        h = d2l.train_ch6(lenet(), *small, num_epochs=2, lr=0.9, device="cpu")
        runs.append((h.train_loss, h.train_acc, h.test_acc))
    assert runs[0] == runs[1]


def test_wrong_output_shape_fails_before_training(small):
    net = nn.Sequential(nn.Conv2d(1, 10, kernel_size=3))  # forgot to flatten and classify
    with pytest.raises(ValueError, match=r"output has shape \(256, 10, 26, 26\).*needs \(batch, num_classes\)"):
        d2l.train_ch6(net, *small, num_epochs=1, lr=0.1, device="cpu")


def test_too_few_classes_for_the_labels(small):
    with pytest.raises(ValueError, match=r"labels run from 0 to 9, but the net scores only 5 classes"):
        d2l.train_ch6(lenet(num_outputs=5), *small, num_epochs=1, lr=0.1, device="cpu")


def test_layers_that_do_not_fit_the_input(small):
    net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28 * 3, 10))
    with pytest.raises(ValueError, match=r"cannot process a batch of shape \(256, 1, 28, 28\)"):
        d2l.train_ch6(net, *small, num_epochs=1, lr=0.1, device="cpu")


def test_float_labels_are_refused(small):
    train_iter, test_iter = small
    floats = d2l.TensorBatches(train_iter.images, train_iter.labels.float(), 256)
    with pytest.raises(ValueError, match="labels must be a 1-D tensor of integer class indices; got dtype torch.float32"):
        d2l.train_ch6(lenet(), floats, test_iter, num_epochs=1, lr=0.1, device="cpu")


def test_unavailable_device_fails_before_training(small, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    net = lenet()
    with pytest.raises(d2l.DeviceUnavailableError, match="no usable CUDA GPU"):
        d2l.train_ch6(net, *small, num_epochs=1, lr=0.1, device="cuda")
    with pytest.raises(ValueError, match="unknown device"):
        d2l.train_ch6(net, *small, num_epochs=1, lr=0.1, device="tpu-ish")
    assert d2l.last_history() is None or d2l.last_history().status != "running"


class NanInEpoch:
    """Batches of ``base``, with nan pixels from batch ``batch`` of epoch ``epoch`` (both 0-based) on."""

    def __init__(self, base, epoch, batch):
        self.base, self.epoch, self.batch, self.epochs_started = base, epoch, batch, -1

    def __len__(self):
        return len(self.base)

    def __iter__(self):
        self.epochs_started += 1
        for i, (X, y) in enumerate(self.base):
            if self.epochs_started > self.epoch or (self.epochs_started == self.epoch and i >= self.batch):
                X = torch.full_like(X, float("nan"))
            yield X, y


def test_nan_loss_stops_within_the_epoch_and_names_it(small, capsys):
    train_iter, test_iter = small
    data = NanInEpoch(train_iter, epoch=1, batch=4)
    data.epochs_started = -2  # train_ch6's dry run takes one batch first
    with pytest.raises(d2l.NonFiniteLossError, match=r"became nan in epoch 2, batch 5 of 8.*learning rate"):
        d2l.train_ch6(lenet(), data, test_iter, num_epochs=5, lr=0.9, device="cpu")
    history = d2l.last_history()
    assert history.status == "diverged"
    assert len(history.test_acc) == 1  # epoch 1 completed, epoch 2 did not
    assert history.steps == 8 + 4  # the 5th step of epoch 2 produced the nan; nothing after it ran
    out = capsys.readouterr().out
    assert "Training diverged: 1 of 5 epochs" in out and "create the net again" in out


def test_huge_learning_rate_diverges_with_a_clear_message(small):
    d2l.set_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    with pytest.raises(d2l.NonFiniteLossError, match=r"in epoch 1, batch \d+ of 8.*too large"):
        d2l.train_ch6(net, *small, num_epochs=3, lr=1e6, device="cpu")
    assert d2l.last_history().test_acc == []


def test_interrupt_stops_at_a_step_boundary_and_propagates(small, capsys):
    """A real SIGINT arrives in the middle of step 3; step 3 completes, then training stops."""
    net = lenet()
    snapshots, steps = [], {"forward": 0}

    def interrupt_during_step_3(module, inputs):
        if module.training:
            steps["forward"] += 1
            if steps["forward"] == 3:
                signal.raise_signal(signal.SIGINT)  # what Ctrl-C or the kernel's stop button sends

    net.register_forward_pre_hook(interrupt_during_step_3)
    real_sgd = torch.optim.SGD

    def recording_sgd(*args, **kwargs):
        opt = real_sgd(*args, **kwargs)
        opt.register_step_post_hook(lambda *_: snapshots.append([p.detach().clone() for p in net.parameters()]))
        return opt

    handler_before = signal.getsignal(signal.SIGINT)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim, "SGD", recording_sgd)
        with pytest.raises(KeyboardInterrupt):
            d2l.train_ch6(net, *small, num_epochs=3, lr=0.9, device="cpu")
    assert signal.getsignal(signal.SIGINT) is handler_before
    history = d2l.last_history()
    assert history.status == "interrupted" and history.steps == 3 == len(snapshots)
    assert history.train_loss and len(history.epoch) == 3  # the partial history is kept
    for p, saved in zip(net.parameters(), snapshots[-1]):
        assert torch.equal(p.detach(), saved)
    out = capsys.readouterr().out
    assert "Training interrupted: 0 of 3 epochs and 3 steps completed" in out
    assert "d2l.last_history()" in out


def test_nan_stops_at_the_step_that_made_it_on_the_cpu(small, capsys):
    """32 batches, a plot every 6: the nan from batch 3 stops training at once, not at the next plot."""
    train_iter, test_iter = small
    fine = d2l.TensorBatches(train_iter.images, train_iter.labels, 64)
    data = NanInEpoch(fine, epoch=0, batch=2)
    data.epochs_started = -2  # train_ch6's dry run takes one batch first
    with pytest.raises(d2l.NonFiniteLossError, match=r"became nan in epoch 1, batch 3 of 32"):
        d2l.train_ch6(lenet(), data, test_iter, num_epochs=1, lr=0.9, device="cpu")
    assert d2l.last_history().steps == 2


def _run_on(device: str, num_batches: int = 4, lr: float = 0.1) -> d2l.TrainingRun:
    """A TrainingRun whose optimizer's parameters live on ``device`` (only their .device is read)."""
    param = types.SimpleNamespace(device=torch.device(device))
    optimizer = types.SimpleNamespace(param_groups=[{"params": [param], "lr": lr}])
    return d2l.TrainingRun(optimizer, num_epochs=1, num_batches=num_batches)


def test_on_a_gpu_nan_waits_for_the_next_read():
    """No host sync per step on a GPU: add_batch never reads the loss; read() finds the nan and names its batch."""
    y_hat, y = torch.zeros(2, 10), torch.tensor([0, 1])
    with _run_on("cuda") as run:
        run.add_batch(torch.tensor(1.0), y_hat, y)
        run.add_batch(torch.tensor(float("nan")), y_hat, y)  # no error yet
        assert run.history.steps == 2
        with pytest.raises(d2l.NonFiniteLossError, match="became nan in epoch 1, batch 2 of 4"):
            run.read()


def test_read_gives_example_weighted_means_and_records_the_point():
    with _run_on("cpu") as run:
        run.add_batch(torch.tensor(2.0), torch.eye(10)[[0, 1, 2]], torch.tensor([0, 1, 5]))  # 3 examples, 2 right
        run.add_batch(torch.tensor(0.5), torch.eye(10)[[4]], torch.tensor([4]))  # 1 example, right
        loss, acc = run.read()
    assert loss == pytest.approx((2.0 * 3 + 0.5 * 1) / 4) and acc == pytest.approx(3 / 4)
    assert run.history.epoch == [0.5] and run.history.train_loss == [loss] and run.history.train_acc == [acc]
    assert run.history.status == "finished" and run.history.examples == 4


def test_last_history_changes_only_when_training_starts():
    with _run_on("cpu") as started:
        pass
    d2l.TrainHistory(3, "cpu")
    _run_on("cpu")  # created, never entered: no training ran
    assert d2l.last_history() is started.history


def _feed(run: d2l.TrainingRun, batch_losses: list[float]) -> None:
    """Add one 2-example batch per loss (10 classes), then read."""
    for value in batch_losses:
        run.add_batch(torch.tensor(value), torch.zeros(2, 10), torch.tensor([0, 1]))
    run.read()


def test_a_sustained_explosion_stops_with_the_learning_rate_named():
    with pytest.raises(d2l.LossExplodedError) as caught, _run_on("cpu", num_batches=40, lr=3.0) as run:
        _feed(run, [2.4] + [30.0] * 8)  # starting loss 2.4; 30 is over 10 x 2.4, but 9 batches are too few
        assert run.history.train_loss  # that read went through
        _feed(run, [30.0])
    message = str(caught.value)
    assert message.startswith("The training loss exploded: its median over the last 10 batches is 30, more than "
                              "10 times its starting value 2.4 (epoch 1, batch 10 of 40)")
    assert "lr is 3 here" in message and "e.g. lr=0.3" in message
    assert run.history.status == "diverged"


def test_plateaus_and_spikes_are_not_divergence():
    with _run_on("cpu", num_batches=100) as run:
        _feed(run, [2.3] * 30)  # sigmoid LeNet's plateau at the loss of guessing
        _feed(run, [2.3] * 9 + [1e6] * 9)  # 9 wild batches among the last 20: the median is still 2.3
    assert run.history.status == "finished"


def test_the_floor_is_the_loss_of_guessing():
    """A first batch that is already good (0.1) does not make 1.5 look like an explosion: chance is 2.3."""
    with _run_on("cpu", num_batches=100) as run:
        _feed(run, [0.1] + [1.5] * 25)
    assert run.history.status == "finished"
    with pytest.raises(d2l.LossExplodedError, match=r"more than 10 times its starting value 2\.3"):
        with _run_on("cpu", num_batches=100) as run:
            _feed(run, [0.1] + [24.0] * 25)


@pytest.mark.slow
def test_the_exploding_mlp_stops_in_its_first_epoch(fashion, capsys):
    """An MLP at lr 1e6 keeps a finite loss near 1e5 at chance accuracy: it must stop within epoch 1."""
    d2l.set_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    with pytest.raises(d2l.TrainingDivergedError, match=r"exploded.*\(epoch 1, batch 47 of 235\).*lr is 1e\+06 here"):
        d2l.train_ch6(net, *fashion, num_epochs=3, lr=1e6, device="cpu")
    history = d2l.last_history()
    assert history.status == "diverged" and history.test_acc == [] and history.steps <= 235
    assert "Training diverged: 0 of 3 epochs" in capsys.readouterr().out


def test_sums_are_right_when_the_loader_gives_more_batches_than_announced():
    """The per-batch buffers are sized by num_batches; a loader that yields more makes them grow."""
    losses, sizes = [2.0, 1.0, 4.0, 0.5, 3.0], [2, 3, 1, 4, 2]
    scores = torch.zeros(4, 10)
    scores[:, 3] = 1  # every example predicted as class 3
    labels = [torch.tensor([3, 0]), torch.tensor([3, 3, 1]), torch.tensor([5]), torch.tensor([3, 3, 3, 3]),
              torch.tensor([0, 3])]
    with _run_on("cpu", num_batches=2) as run:
        for value, n, y in zip(losses, sizes, labels):
            run.add_batch(torch.tensor(value), scores[:n], y)
        loss, acc = run.read()
    assert loss == pytest.approx(sum(v * n for v, n in zip(losses, sizes)) / 12)  # 30.5 / 12
    assert acc == pytest.approx(8 / 12)
    assert run.history.steps == 5 and run.history.examples == 12
