"""train_ch6's safety nets: early shape checks, nan losses, interrupts, devices, reproducibility."""
from __future__ import annotations

import re
import signal
import time
import types

import pytest
import torch
from torch import nn

import d2l_local as d2l
from d2l_local.safety import stop_summary


@pytest.fixture(scope="module")
def small_1024(data_root):
    """1024 training and 512 test examples of the real data: 8 and 2 batches of 128 and 256."""
    train_iter, test_iter = d2l.load_data_fashion_mnist(256, root=data_root)
    return (d2l.TensorBatches(train_iter.stored_images[:1024], train_iter.labels[:1024], 128, shuffle=True),
            d2l.TensorBatches(test_iter.stored_images[:512], test_iter.labels[:512], 256))


def test_history_records_every_plot_point_and_epoch(small_1024, capsys):
    net = d2l.lenet()
    history = d2l.train_ch6(net, *small_1024, num_epochs=2, lr=0.9, device="cpu")
    assert history.status == "finished" and d2l.last_history() is history and history.device == "cpu"
    assert history.steps == 16 and history.examples == 2 * 1024
    assert history.epoch == pytest.approx([i / 8 for i in range(1, 17)])  # 8 batches: plot after each
    with torch.no_grad():  # the trained net's own test accuracy, counted here
        right = sum(int((net.eval()(X).argmax(dim=1) == y).sum()) for X, y in small_1024[1])
    assert len(history.test_acc) == 2 and history.test_acc[-1] == right / 512
    out = capsys.readouterr().out
    assert "<Figure" not in out
    assert f"test acc {right / 512:.3f}\n" in out
    speed = re.search(r"\n(\d+\.\d) examples/sec on cpu\n$", out)
    assert speed and float(speed.group(1)) == pytest.approx(history.examples / history.seconds, abs=0.05)


def _hand_trained(train_batches, test_batches, num_epochs, lr, reads):
    """The chapter's training written out plainly: the train points after the batches in ``reads``, and test accuracies.

    Xavier-initialised weights, plain SGD on the mean cross-entropy, and per point the
    example-weighted mean loss and the accuracy of the epoch so far (float64 on the host).
    """
    torch.manual_seed(0)
    net = d2l.lenet()
    for m in net.modules():
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
    net.to(memory_format=torch.channels_last)  # as train_ch6 does: the same convolution kernels, the same sums
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    points, test_acc = [], []
    for epoch in range(num_epochs):
        net.train()
        loss_sum, correct, count = 0.0, 0, 0
        for i, (X, y) in enumerate(train_batches, start=1):
            opt.zero_grad()
            y_hat = net(X)
            loss = nn.functional.cross_entropy(y_hat, y)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += int((y_hat.argmax(dim=1) == y).sum())
            count += len(y)
            if i in reads:
                points.append((epoch + i / len(train_batches), loss_sum / count, correct / count))
        net.eval()
        with torch.no_grad():
            right = sum(int((net(X).argmax(dim=1) == y).sum()) for X, y in test_batches)
        test_acc.append(right / sum(len(y) for _, y in test_batches))
    return points, test_acc


@pytest.fixture(scope="module")
def uneven(data_root):
    """300 training examples in 11 batches of 28 (the last one 20) and 150 test examples, not shuffled."""
    train_iter, test_iter = d2l.load_data_fashion_mnist(256, root=data_root)
    return (d2l.TensorBatches(train_iter.stored_images[:300], train_iter.labels[:300], 28),
            d2l.TensorBatches(test_iter.stored_images[:150], test_iter.labels[:150], 64))


def test_history_equals_a_plain_training_loop_on_the_same_batches(uneven, capsys):
    """Loss weighted by batch size (the last batch is smaller), accuracy, read points and test accuracy."""
    train_iter, test_iter = uneven
    torch.manual_seed(0)
    history = d2l.train_ch6(d2l.lenet(), train_iter, test_iter, num_epochs=2, lr=0.9, device="cpu")
    reads = {2, 4, 6, 8, 10, 11}  # 11 batches: a point every 11 // 5 = 2 batches, and after the last one
    points, test_acc = _hand_trained(list(train_iter), list(test_iter), 2, 0.9, reads)
    assert history.epoch == pytest.approx([x for x, _, _ in points], abs=1e-12)
    assert history.train_loss == pytest.approx([loss for _, loss, _ in points], rel=1e-5)
    assert history.train_acc == pytest.approx([acc for _, _, acc in points], abs=1e-12)
    assert history.test_acc == pytest.approx(test_acc, abs=1e-12)
    assert (history.steps, history.examples, history.num_epochs) == (22, 600, 2)
    assert history.train_loss[-1] < history.train_loss[0]  # it learned something: the comparison is not vacuous
    out = capsys.readouterr().out
    assert out.startswith("training on cpu\n")
    assert f"loss {points[-1][1]:.3f}, train acc {points[-1][2]:.3f}, test acc {test_acc[-1]:.3f}\n" in out


def test_the_seed_decides_the_weights_and_the_batch_order(uneven):
    train_iter, test_iter = uneven
    shuffled = d2l.TensorBatches(train_iter.stored_images, train_iter.labels, 28, shuffle=True)
    runs = []
    for seed in (7, 7, 8):
        d2l.set_seed(seed)
        h = d2l.train_ch6(d2l.lenet(), shuffled, test_iter, num_epochs=1, lr=0.9, device="cpu")
        runs.append((h.train_loss, h.train_acc, h.test_acc))
    assert runs[0] == runs[1] and runs[0][0] != runs[2][0]


def test_wrong_output_shape_fails_before_training(small_1024):
    net = nn.Sequential(nn.Conv2d(1, 10, kernel_size=3))  # forgot to flatten and classify
    with pytest.raises(ValueError, match=r"output has shape \(128, 10, 26, 26\).*needs \(batch, num_classes\), e\.g\. \(128, 10\)"):
        d2l.train_ch6(net, *small_1024, num_epochs=1, lr=0.1, device="cpu")


def test_too_few_classes_for_the_labels(small_1024):
    with pytest.raises(ValueError, match=r"labels run from 0 to 9, but the net scores only 5 classes"):
        d2l.train_ch6(d2l.lenet_variant(num_classes=5), *small_1024, num_epochs=1, lr=0.1, device="cpu")


def test_layers_that_do_not_fit_the_input(small_1024):
    net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28 * 3, 10))
    with pytest.raises(ValueError, match=r"cannot process a batch of shape \(128, 1, 28, 28\)"):
        d2l.train_ch6(net, *small_1024, num_epochs=1, lr=0.1, device="cpu")


def test_float_labels_are_refused(small_1024):
    train_iter, test_iter = small_1024
    floats = d2l.TensorBatches(train_iter.images, train_iter.labels.float(), 128)
    with pytest.raises(ValueError, match="labels must be a 1-D tensor of integer class indices; got dtype torch.float32"):
        d2l.train_ch6(d2l.lenet(), floats, test_iter, num_epochs=1, lr=0.1, device="cpu")


def test_unavailable_device_fails_before_training(small_1024, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    net = d2l.lenet()
    with pytest.raises(d2l.DeviceUnavailableError, match="no usable CUDA GPU"):
        d2l.train_ch6(net, *small_1024, num_epochs=1, lr=0.1, device="cuda")
    with pytest.raises(ValueError, match="unknown device"):
        d2l.train_ch6(net, *small_1024, num_epochs=1, lr=0.1, device="tpu-ish")
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


def test_nan_loss_stops_within_the_epoch_and_names_it(small_1024, capsys):
    train_iter, test_iter = small_1024
    data = NanInEpoch(train_iter, epoch=1, batch=4)
    data.epochs_started = -2  # train_ch6's dry run takes one batch first
    with pytest.raises(d2l.NonFiniteLossError, match=r"became nan in epoch 2, batch 5 of 8.*learning rate"):
        d2l.train_ch6(d2l.lenet(), data, test_iter, num_epochs=5, lr=0.9, device="cpu")
    history = d2l.last_history()
    assert history.status == "diverged"
    assert len(history.test_acc) == 1  # epoch 1 completed, epoch 2 did not
    assert history.steps == 8 + 4  # the 5th step of epoch 2 produced the nan; nothing after it ran
    out = capsys.readouterr().out
    assert "Training diverged: 1 of 5 epochs" in out and "create the net again" in out


def test_huge_learning_rate_diverges_with_a_clear_message(small_1024):
    d2l.set_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    with pytest.raises(d2l.NonFiniteLossError, match=r"in epoch 1, batch \d+ of 8.*too large"):
        d2l.train_ch6(net, *small_1024, num_epochs=3, lr=1e6, device="cpu")
    assert d2l.last_history().test_acc == []


def test_interrupt_stops_at_a_step_boundary_and_propagates(small_1024, capsys):
    """A real SIGINT arrives in the middle of step 3; step 3 completes, then training stops."""
    net = d2l.lenet()
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
        with pytest.raises(KeyboardInterrupt, match="^training stopped after a completed step$"):
            d2l.train_ch6(net, *small_1024, num_epochs=3, lr=0.9, device="cpu")
    assert signal.getsignal(signal.SIGINT) is handler_before
    history = d2l.last_history()
    assert history.status == "interrupted" and history.steps == 3 == len(snapshots)
    assert history.train_loss and len(history.epoch) == 3  # the partial history is kept
    for p, saved in zip(net.parameters(), snapshots[-1]):
        assert torch.equal(p.detach(), saved)
    out = capsys.readouterr().out
    assert "Training interrupted: 0 of 3 epochs and 3 steps completed" in out
    assert "d2l.last_history()" in out


def test_nan_stops_at_the_step_that_made_it_on_the_cpu(small_1024, capsys):
    """32 batches, a plot every 6: the nan from batch 3 stops training at once, not at the next plot."""
    train_iter, test_iter = small_1024
    fine = d2l.TensorBatches(train_iter.images, train_iter.labels, 32)
    data = NanInEpoch(fine, epoch=0, batch=2)
    data.epochs_started = -2  # train_ch6's dry run takes one batch first
    with pytest.raises(d2l.NonFiniteLossError, match=r"became nan in epoch 1, batch 3 of 32"):
        d2l.train_ch6(d2l.lenet(), data, test_iter, num_epochs=1, lr=0.9, device="cpu")
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


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")], ids=["inf", "-inf", "nan"])
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_an_infinite_loss_stops_training_as_nan_does(bad, device):
    """On the CPU at the step that made it, on a GPU at the next read: inf and -inf as well as nan."""
    y_hat, y = torch.zeros(2, 10), torch.tensor([0, 1])
    with pytest.raises(d2l.NonFiniteLossError, match=rf"became {bad} in epoch 1, batch 2 of 4"):
        with _run_on(device) as run:
            run.add_batch(torch.tensor(1.0), y_hat, y)
            run.add_batch(torch.tensor(bad), y_hat, y)
            assert device == "cuda", "the CPU must stop at the step"
            run.read()
    assert run.history.status == "diverged" and run.history.steps == (1 if device == "cpu" else 2)
    assert run.history.train_loss == []  # the bad point never reached the history


def test_the_live_plot_shows_the_runs_own_numbers(small_1024, monkeypatch):
    """What train_ch6 plots is what it records: every train point and every test accuracy, on the right x."""
    made = []

    class Recorded(d2l.Animator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(d2l, "Animator", Recorded)
    history = d2l.train_ch6(d2l.lenet(), *small_1024, num_epochs=2, lr=0.9, device="cpu")
    (plot,) = made
    assert (plot.xlabel, plot.xlim, plot.legend) == ("epoch", [1, 2], ["train loss", "train acc", "test acc"])
    assert plot.X[0] == plot.X[1] == history.epoch
    assert plot.Y[0] == history.train_loss and plot.Y[1] == history.train_acc
    assert plot.X[2] == [1.0, 2.0] and plot.Y[2] == history.test_acc


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_accuracy_gpu_counts_in_eval_mode_and_restores_the_mode(training):
    """A dropout of 0.9 would scramble the predictions in training mode; the count must be of eval mode's."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Dropout(0.9), nn.Linear(4, 3))
    X = torch.randn(50, 1, 2, 2)
    with torch.no_grad():
        y = net.eval()(X).argmax(dim=1)
    net.train(training)
    assert d2l.evaluate_accuracy_gpu(net, [(X[:20], y[:20]), (X[20:], y[20:])]) == 1.0
    assert net.training is training and net[1].training is training


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


# --- check_classifier: boundaries on both sides, and the net's mode restored ---------------------------

def _scores(num_outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(4, num_outputs))


def _one_batch(labels: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.rand(len(labels), 1, 2, 2), torch.tensor(labels))]


def test_check_classifier_accepts_exactly_one_score_per_class():
    d2l.check_classifier(_scores(10), _one_batch([0, 9, 3]), torch.device("cpu"))  # 10 outputs for labels 0-9
    with pytest.raises(ValueError, match=r"^the labels run from 0 to 9, but the net scores only 9 classes \(0-8\)\. "
                                         r"Make the last layer output one score per class\.$"):
        d2l.check_classifier(_scores(9), _one_batch([0, 9, 3]), torch.device("cpu"))


@pytest.mark.parametrize("labels, low, high", [([0, 10], 0, 10), ([-1, 4], -1, 4)])
def test_check_classifier_refuses_labels_outside_the_scores(labels, low, high):
    with pytest.raises(ValueError, match=rf"^the labels run from {low} to {high}, but the net scores only 10 classes "
                                         r"\(0-9\)"):
        d2l.check_classifier(_scores(10), _one_batch(labels), torch.device("cpu"))


@pytest.mark.parametrize("labels", [torch.tensor([[0, 1]]), torch.tensor([True, False])])
def test_check_classifier_refuses_labels_that_are_not_class_indices(labels):
    with pytest.raises(ValueError, match="^" + re.escape(f"labels must be a 1-D tensor of integer class indices; got "
                                                         f"dtype {labels.dtype}, shape {tuple(labels.shape)}") + "$"):
        d2l.check_classifier(_scores(10), [(torch.rand(2, 1, 2, 2), labels)], torch.device("cpu"))


def test_check_classifier_refuses_one_output_row_per_batch_too_few():
    net = nn.Sequential(nn.Flatten(0), nn.Unflatten(0, (1, -1)))  # (1, 12): a 2-D output, but one row for 3 examples
    with pytest.raises(ValueError, match=r"output has shape \(1, 12\) for a batch of 3 examples"):
        d2l.check_classifier(net, _one_batch([0, 1, 2]), torch.device("cpu"))


@pytest.mark.parametrize("training", [True, False])
def test_check_classifier_runs_in_eval_mode_and_restores_the_mode(training):
    seen = []
    net = _scores(10).train(training)
    net.register_forward_pre_hook(lambda module, inputs: seen.append(module.training))
    d2l.check_classifier(net, _one_batch([1, 2]), torch.device("cpu"))
    assert seen == [False] and net.training is training and net[1].training is training
    broken = nn.Sequential(nn.Flatten(), nn.Linear(5, 10)).train(training)  # 4 pixels in, 5 expected
    with pytest.raises(ValueError, match=r"^the net cannot process a batch of shape \(1, 1, 2, 2\): .*Check that "
                                         r"each layer's input size matches"):
        d2l.check_classifier(broken, _one_batch([1]), torch.device("cpu"))
    assert broken.training is training and broken[1].training is training


def test_check_classifier_reads_one_batch_without_gradients():
    reads, grads = [], []

    class Batches:
        def __iter__(self):
            for batch in _one_batch([1, 2]) * 3:
                reads.append(1)
                yield batch

    net = _scores(10)
    net.register_forward_hook(lambda module, inputs, out: grads.append(out.requires_grad))
    d2l.check_classifier(net, Batches(), torch.device("cpu"))
    assert reads == [1] and grads == [False]


# --- TrainingRun: signal handlers, summaries, the explosion rule's edges ------------------------------

def _custom_handler(signum, frame):
    raise AssertionError("not called in this test")


@pytest.mark.parametrize("before", [signal.default_int_handler, signal.SIG_IGN, _custom_handler])
@pytest.mark.parametrize("ending", ["finished", "error"])
def test_the_sigint_handler_is_installed_and_then_restored(before, ending):
    previous = signal.signal(signal.SIGINT, before)
    try:
        with pytest.raises(RuntimeError) if ending == "error" else _no_error():
            with _run_on("cpu") as run:
                assert signal.getsignal(signal.SIGINT) == run.interrupt.on_sigint
                if ending == "error":
                    raise RuntimeError("boom")
        assert signal.getsignal(signal.SIGINT) is before
    finally:
        signal.signal(signal.SIGINT, previous)


class _no_error:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_outside_the_main_thread_no_handler_is_touched():
    import threading

    seen = []
    before = signal.getsignal(signal.SIGINT)

    def train():
        with _run_on("cpu") as run:
            run.add_batch(torch.tensor(1.0), torch.eye(10)[[0]], torch.tensor([0]))
            seen.append(signal.getsignal(signal.SIGINT))
        seen.append(run.history.status)

    thread = threading.Thread(target=train)
    thread.start()
    thread.join()
    assert seen == [before, "finished"] and signal.getsignal(signal.SIGINT) is before


def test_one_interrupt_waits_for_the_step_and_a_second_stops_at_once(capsys):
    with pytest.raises(KeyboardInterrupt, match="training stopped after a completed step"):
        with _run_on("cpu") as run:
            run.interrupt.on_sigint(signal.SIGINT, None)  # the first press: nothing stops yet
            assert run.interrupt.requested
            with pytest.raises(KeyboardInterrupt):
                run.interrupt.on_sigint(signal.SIGINT, None)  # the second press stops at once
            run.add_batch(torch.tensor(0.5), torch.eye(10)[[3, 1]], torch.tensor([3, 2]))
    assert run.history.status == "interrupted" and run.history.steps == 1
    assert run.history.train_loss == [0.5] and run.history.train_acc == [0.5] and run.history.epoch == [0.25]
    assert capsys.readouterr().out == ("Training interrupted: 0 of 1 epochs and 1 steps completed; last train loss "
                                       "0.500, train acc 0.500. The net keeps the weights of step 1; "
                                       "d2l.last_history() holds the numbers so far.\n")


def test_an_interrupt_brings_the_plot_up_to_date():
    animator = d2l.Animator(legend=["train loss", "train acc", "test acc"], notebook=False, min_interval=3600)
    flushed = []
    animator.flush = lambda: flushed.append(True)
    optimizer = types.SimpleNamespace(param_groups=[{"params": [torch.zeros(1)], "lr": 0.1}])
    with pytest.raises(KeyboardInterrupt), d2l.TrainingRun(optimizer, 2, 4, animator) as run:
        run.add_batch(torch.tensor(1.5), torch.eye(10)[[1]], torch.tensor([1]))
        run.add_test_acc(0.25)
        run.add_batch(torch.tensor(0.5), torch.eye(10)[[2, 2]], torch.tensor([2, 3]))
        run.interrupt.requested = True
        run.add_batch(torch.tensor(1.0), torch.eye(10)[[4, 4]], torch.tensor([4, 4]))
    assert animator.X == [[1.5], [1.5], []] and animator.Y == [[0.75], [0.75], []]  # (0.5*2 + 1*2) / 4; 3 of 4 right
    assert flushed == [True]
    assert run.history.epoch == [1.5] and run.history.test_acc == [0.25]


def test_other_errors_pass_through_without_a_summary(capsys):
    with pytest.raises(ZeroDivisionError), _run_on("cpu") as run:
        raise ZeroDivisionError
    assert run.history.status == "interrupted" and capsys.readouterr().out == ""


def test_summary_of_a_run_with_test_accuracy_and_of_a_diverged_one():
    h = d2l.TrainHistory(5, "cpu", train_loss=[0.9, 0.4567], train_acc=[0.5, 0.8123], test_acc=[0.7, 0.7891],
                         steps=470, status="interrupted")
    assert stop_summary(h) == ("Training interrupted: 2 of 5 epochs and 470 steps completed; last train loss 0.457, "
                           "train acc 0.812, test acc 0.789. The net keeps the weights of step 470; "
                           "d2l.last_history() holds the numbers so far.")
    h = d2l.TrainHistory(3, "cpu", steps=0, status="diverged")
    assert stop_summary(h) == ("Training diverged: 0 of 3 epochs and 0 steps completed. The weights are no longer "
                           "usable: create the net again before retraining; d2l.last_history() holds the numbers "
                           "so far.")


def test_examples_per_second_and_seconds(monkeypatch):
    assert d2l.TrainHistory(1, "cpu", examples=500).examples_per_sec == 0.0  # no time measured yet
    assert d2l.TrainHistory(1, "cpu", examples=500, seconds=4.0).examples_per_sec == 125.0
    clock = iter([10.0, 12.5])
    monkeypatch.setattr(time, "perf_counter", lambda: next(clock))
    with _run_on("cpu") as run:
        run.add_batch(torch.tensor(1.0), torch.eye(10)[[0] * 5], torch.tensor([0] * 5))
    assert run.history.seconds == 2.5 and run.examples_per_sec == 2.0


def test_explosion_needs_half_a_window_and_more_than_ten_times_the_start():
    with _run_on("cpu", num_batches=100) as run:
        _feed(run, [2.5] + [25.0] * 8)  # 9 batches: too few to judge
        _feed(run, [25.0] * 11)  # exactly 10 times the start: not yet
    assert run.history.status == "finished"
    with pytest.raises(d2l.LossExplodedError, match=r"median over the last 10 batches is 25\.1, more than 10 times "
                                                    r"its starting value 2\.5 \(epoch 1, batch 10 of 100\)"):
        with _run_on("cpu", num_batches=100) as run:
            _feed(run, [2.5] + [25.1] * 9)


def test_the_window_forgets_old_batches():
    """Only the last 20 read batches count: 20 calm ones after 19 wild ones end the alarm."""
    with _run_on("cpu", num_batches=100) as run:
        _feed(run, [2.4] * 11 + [100.0] * 9)  # median of 20: (2.4 + 100) / 2 is not 10 x 2.4
        _feed(run, [2.4] * 20)
    assert run.history.status == "finished"
    with pytest.raises(d2l.LossExplodedError), _run_on("cpu", num_batches=100) as run:
        _feed(run, [2.4] * 10 + [100.0] * 10)
        _feed(run, [100.0] * 2)


def test_a_single_score_column_has_no_chance_floor():
    """With one output (no classes to guess among) the start is the first batch's loss alone."""
    with pytest.raises(d2l.LossExplodedError, match=r"starting value 0\.1 "), _run_on("cpu", num_batches=50) as run:
        for value in [0.1] + [1.5] * 12:
            run.add_batch(torch.tensor(value), torch.zeros(2, 1), torch.tensor([0, 0]))
        run.read()


def test_the_epoch_position_and_a_new_epochs_sums():
    with _run_on("cpu", num_batches=4) as run:
        run.add_batch(torch.tensor(1.0), torch.eye(10)[[0, 0]], torch.tensor([0, 1]))
        assert run.epochs_done == 0.25
        run.read()
        run.add_test_acc(0.5)
        assert run.epochs_done == 1.0
        run.add_batch(torch.tensor(3.0), torch.eye(10)[[2]], torch.tensor([2]))
        loss, acc = run.read()
    assert (loss, acc) == (3.0, 1.0)  # the second epoch's sums start from zero
    assert run.history.epoch == [0.25, 1.25] and run.history.train_loss == [1.0, 3.0]
    assert run.history.train_acc == [0.5, 1.0] and run.history.steps == 2 and run.history.examples == 3


def test_check_classifier_accepts_an_empty_first_batch():
    d2l.check_classifier(_scores(10), [(torch.zeros(0, 1, 2, 2), torch.zeros(0, dtype=torch.int64))],
                         torch.device("cpu"))  # no label to check: nothing to refuse


def test_a_two_class_chance_floor_is_ln_2():
    """With two outputs the loss of guessing is ln 2 = 0.693: 10 x 0.693 is the limit, not 10 x the first loss."""
    with pytest.raises(d2l.LossExplodedError, match=r"starting value 0\.693 "), _run_on("cpu", num_batches=50) as run:
        for value in [0.01] + [7.0] * 12:
            run.add_batch(torch.tensor(value), torch.zeros(2, 2), torch.tensor([0, 1]))
        run.read()
