"""Generated from notebooks/en/lenet.ipynb by tools/maintainer/sync_d2l_local.py: do not edit.

Edit the #@save cells of the notebook, then run: python tools/maintainer/sync_d2l_local.py
"""
import torch
from torch import nn

import d2l_local as d2l


# From notebooks/en/lenet.ipynb, cell 6 (id 'code-02')
def lenet():
    """The chapter's LeNet for 28x28 grey-scale images and 10 classes."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


# From notebooks/en/lenet.ipynb, cell 24 (id 'code-08')
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


# From notebooks/en/lenet.ipynb, cell 26 (id 'code-09')
def train_ch6(net, train_iter, test_iter, num_epochs, lr, device, *,
              optimizer=None, init=nn.init.xavier_uniform_):
    """Train a model on a device (defined in the LeNet chapter); return its d2l.TrainHistory."""
    for m in net.modules():  # Xavier initialisation of every linear and convolution layer
        if init is not None and type(m) in (nn.Linear, nn.Conv2d):
            init(m.weight)
    device = d2l.check_device(device)  # a clear error for a device this machine lacks
    print('training on', device)
    net.to(device, memory_format=torch.channels_last)  # faster convolutions on CPUs
    d2l.check_classifier(net, train_iter, device)  # fail now, not in the middle of epoch 1
    optimizer = optimizer or torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    animator = d2l.Animator(xlabel='epoch', xlim=[1, num_epochs],
                            ylabel='loss / accuracy', legend=['train loss', 'train acc', 'test acc'])
    num_batches = len(train_iter)
    with d2l.TrainingRun(optimizer, num_epochs, num_batches, animator) as run:
        for epoch in range(num_epochs):
            net.train()
            for i, (X, y) in enumerate(train_iter):
                optimizer.zero_grad()
                X, y = X.to(device), y.to(device)
                y_hat = net(X)
                l = loss(y_hat, y)
                l.backward()
                optimizer.step()
                run.add_batch(l, y_hat, y)  # sums stay on the device; stops here after an interrupt
                if (i + 1) % max(num_batches // 5, 1) == 0 or i == num_batches - 1:
                    train_l, train_acc = run.read()  # one copy to the host
                    animator.add(epoch + (i + 1) / num_batches, (train_l, train_acc, None))
            test_acc = evaluate_accuracy_gpu(net, test_iter)
            run.add_test_acc(test_acc)
            animator.add(epoch + 1, (None, None, test_acc))
    print(f'loss {train_l:.3f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}')
    print(f'{run.examples_per_sec:.1f} examples/sec on {device}')
    return run.history


__all__ = ['lenet', 'evaluate_accuracy_gpu', 'train_ch6']
