"""Code saved from notebooks/en/lenet.ipynb (cells marked #@save).

Written by tools/sync_d2l_local.py: edit the notebook, then run that script.
"""
import torch
from torch import nn

import d2l_local as d2l


def evaluate_accuracy_gpu(net, data_iter, device=None):
    """Return the fraction of examples in `data_iter` that `net` classifies correctly."""
    if device is None:  # by default, evaluate where the parameters live
        device = next(iter(net.parameters())).device
    was_training = net.training
    net.eval()  # evaluation mode: layers such as dropout or batch norm stop training behaviour
    correct, total = torch.zeros((), device=device), 0
    with torch.inference_mode():  # no autograd bookkeeping: faster and lighter
        for X, y in data_iter:
            X, y = X.to(device), y.to(device)
            correct += (net(X).argmax(dim=1) == y).sum()
            total += y.numel()
    net.train(was_training)
    return correct.item() / total  # the only copy from the device to the host


def train_ch6(net, train_iter, test_iter, num_epochs, lr, device):
    """Train `net` with minibatch SGD on cross-entropy, plotting progress; return its TrainHistory."""
    def init_weights(m):
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
    net.apply(init_weights)
    device = d2l.check_device(device)
    print('training on', device)
    net.to(device, memory_format=torch.channels_last)  # faster convolutions on CPUs
    d2l.check_classifier(net, train_iter, device)  # fail now, not in the middle of epoch 1
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    animator = d2l.Animator(xlabel='epoch', ylabel='loss / accuracy', xlim=[1, num_epochs],
                            legend=['train loss', 'train acc', 'test acc'])
    history = d2l.TrainHistory(num_epochs, str(device))
    num_batches = len(train_iter)
    plot_every = max(num_batches // 5, 1)
    with d2l.StepGuard(history, animator) as guard:
        for epoch in range(num_epochs):
            net.train()
            metrics = d2l.EpochMetrics(epoch, num_batches)
            for i, (X, y) in enumerate(train_iter):
                X, y = X.to(device), y.to(device)
                optimizer.zero_grad()
                y_hat = net(X)
                l = loss(y_hat, y)
                l.backward()
                optimizer.step()
                metrics.add(l, y_hat, y)
                if (i + 1) % plot_every == 0 or i == num_batches - 1:
                    train_l, train_acc = metrics.read()
                    x = epoch + (i + 1) / num_batches
                    history.add_train_point(x, train_l, train_acc)
                    animator.add(x, (train_l, train_acc, None))
                guard.step_done(len(y))  # stops here if an interrupt came in
            test_acc = evaluate_accuracy_gpu(net, test_iter)
            history.test_acc.append(test_acc)
            animator.add(epoch + 1, (None, None, test_acc))
    print(f'loss {train_l:.3f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}')
    print(f'{history.examples_per_sec:.1f} examples/sec on {device}')
    return history


__all__ = ['evaluate_accuracy_gpu', 'train_ch6']
