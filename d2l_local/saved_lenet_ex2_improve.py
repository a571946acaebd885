"""Code saved from notebooks/en/lenet_ex2_improve.ipynb (cells marked #@save).

Written by tools/sync_d2l_local.py: edit the notebook, then run that script.
"""
import numbers

import torch
from torch import nn

import d2l_local as d2l


ACTIVATIONS = {'sigmoid': nn.Sigmoid, 'tanh': nn.Tanh, 'relu': nn.ReLU, 'leaky_relu': nn.LeakyReLU,
               'gelu': nn.GELU}
POOLING = {'avg': nn.AvgPool2d, 'max': nn.MaxPool2d}


def lenet_variant(channels=(6, 16), kernel_size=5, activation='sigmoid', pooling='avg', dense=(120, 84),
                  batch_norm=False, same_padding=False, num_classes=10, image_size=28):
    """A LeNet-style network; the defaults build exactly the chapter's LeNet.

    One convolution block (conv, optional batch norm, activation, 2x2 pooling) per entry
    of `channels`, then one hidden dense layer per entry of `dense`, then the output layer.
    The first convolution keeps the image size; the later ones shrink it by
    kernel_size - 1 pixels unless `same_padding` is true.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f'activation must be one of {", ".join(ACTIVATIONS)}, got {activation!r}')
    if pooling not in POOLING:
        raise ValueError(f"pooling must be 'avg' or 'max', got {pooling!r}")
    channels, dense = list(channels), list(dense)
    for name, values in (('channels', channels), ('dense', dense)):
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
            raise ValueError(f'{name} must be a list of positive ints, got {values}')
    if not channels:
        raise ValueError('need at least one convolution layer (channels must not be empty)')
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f'kernel_size must be an odd positive int (3, 5, 7, ...), got {kernel_size!r}')
    Act, Pool = ACTIVATIONS[activation], POOLING[pooling]
    layers, size, c_in = [], image_size, 1
    for i, c in enumerate(channels):
        padding = kernel_size // 2 if i == 0 or same_padding else 0
        size = (size + 2 * padding - kernel_size + 1) // 2  # after the convolution and the pooling
        if size < 1:
            raise ValueError(f'with {len(channels)} convolution layers of kernel size {kernel_size} the '
                             f'feature maps shrink to nothing at layer {i + 1}; use fewer layers, a smaller '
                             f'kernel or same_padding=True')
        layers.append(nn.Conv2d(c_in, c, kernel_size, padding=padding, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(c))
        layers += [Act(), Pool(kernel_size=2, stride=2)]
        c_in = c
    layers.append(nn.Flatten())
    width = c_in * size * size
    for d in dense:
        layers += [nn.Linear(width, d), Act()]
        width = d
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def num_params(net):
    """Number of trainable parameters of `net`."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def init_weights(net, init='xavier'):
    """Re-draw the weights of every Conv2d and Linear layer: 'xavier' (as train_ch6), 'kaiming' or 'default'.

    'default' keeps PyTorch's own initialisation. Biases are left as they are.
    """
    schemes = {'xavier': nn.init.xavier_uniform_, 'default': None,
               'kaiming': lambda w: nn.init.kaiming_uniform_(w, nonlinearity='relu')}
    if init not in schemes:
        raise ValueError(f"init must be 'xavier', 'kaiming' or 'default', got {init!r}")
    if schemes[init] is not None:
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                schemes[init](m.weight)


def random_flip(X):
    """Mirror a random half of the images left to right (a label-preserving change for clothes)."""
    flip = torch.rand(X.shape[0], 1, 1, 1, device=X.device) < 0.5
    return torch.where(flip, X.flip(3), X)


def train_variant(net, train_iter, test_iter, num_epochs, lr, device=None, *, optimizer='sgd',
                  momentum=0.0, weight_decay=0.0, schedule='constant', init='xavier', augment=False,
                  label_smoothing=0.0, plot=True, verbose=True):
    """Train `net` like d2l.train_ch6, with choices for the optimiser, schedule, init and augmentation.

    optimizer: 'sgd' (with optional Nesterov `momentum`) or 'adamw'; schedule: 'constant' or
    'onecycle' (warm up to `lr`, then anneal towards zero); augment: random left-right flips.
    Returns the run's d2l.TrainHistory.
    """
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f'num_epochs must be a positive int, got {num_epochs!r}')
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f'lr must be a positive number, got {lr!r}')
    if optimizer not in ('sgd', 'adamw'):
        raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {optimizer!r}")
    if schedule not in ('constant', 'onecycle'):
        raise ValueError(f"schedule must be 'constant' or 'onecycle', got {schedule!r}")
    init_weights(net, init)
    device = d2l.check_device(device)
    if verbose:
        print('training on', device)
    net.to(device, memory_format=torch.channels_last)
    d2l.check_classifier(net, train_iter, device)
    if optimizer == 'sgd':
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, nesterov=momentum > 0,
                              weight_decay=weight_decay)
    else:
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    num_batches = len(train_iter)
    scheduler = None
    if schedule == 'onecycle':
        scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=num_epochs * num_batches,
                                                        cycle_momentum=False)
    loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    animator = None
    if plot:
        animator = d2l.Animator(xlabel='epoch', ylabel='loss / accuracy', xlim=[1, num_epochs],
                                legend=['train loss', 'train acc', 'test acc'])
    history = d2l.TrainHistory(num_epochs, str(device))
    plot_every = max(num_batches // 5, 1)
    with d2l.StepGuard(history, animator) as guard:
        for epoch in range(num_epochs):
            net.train()
            metrics = d2l.EpochMetrics(epoch, num_batches)
            for i, (X, y) in enumerate(train_iter):
                X, y = X.to(device), y.to(device)
                if augment:
                    X = random_flip(X)
                opt.zero_grad()
                y_hat = net(X)
                l = loss(y_hat, y)
                l.backward()
                opt.step()
                if scheduler is not None:
                    scheduler.step()
                metrics.add(l, y_hat, y)
                if (i + 1) % plot_every == 0 or i == num_batches - 1:
                    train_l, train_acc = metrics.read()
                    x = epoch + (i + 1) / num_batches
                    history.add_train_point(x, train_l, train_acc)
                    if animator is not None:
                        animator.add(x, (train_l, train_acc, None))
                guard.step_done(len(y))  # as in train_ch6: stops here if an interrupt came in
            test_acc = d2l.evaluate_accuracy_gpu(net, test_iter)
            history.test_acc.append(test_acc)
            if animator is not None:
                animator.add(epoch + 1, (None, None, test_acc))
    if verbose:
        print(f'train loss {train_l:.3f}; train accuracy {train_acc:.3f}; test accuracy {test_acc:.3f}')
        print(f'{history.examples_per_sec:.1f} examples/sec on {device}')
    return history


ARCH_KEYS = ('channels', 'kernel_size', 'activation', 'pooling', 'dense', 'batch_norm', 'same_padding')
TRAIN_KEYS = ('lr', 'optimizer', 'momentum', 'weight_decay', 'schedule', 'init', 'augment', 'label_smoothing')


def describe(settings):
    """A short label for a run, e.g. 'relu max 6-16 k5 d120-84 bn lr0.1 2ep'."""
    s = settings
    parts = [s.get('activation', 'sigmoid'), s.get('pooling', 'avg'),
             '-'.join(map(str, s.get('channels', (6, 16)))), f"k{s.get('kernel_size', 5)}",
             'd' + '-'.join(map(str, s.get('dense', (120, 84)))) if s.get('dense', (120, 84)) else 'd-']
    if s.get('batch_norm'):
        parts.append('bn')
    if s.get('optimizer', 'sgd') == 'adamw':
        parts.append('adamw')
    elif s.get('momentum'):
        parts.append(f"mom{s['momentum']:g}")
    if s.get('schedule', 'constant') == 'onecycle':
        parts.append('1cycle')
    if s.get('init', 'xavier') != 'xavier':
        parts.append(s['init'])
    if s.get('augment'):
        parts.append('flip')
    parts += [f"lr{s.get('lr', 0.9):g}", f"{s.get('num_epochs', 2)}ep"]
    return ' '.join(parts)


def explore_run(settings, train_iter, test_iter, runs=None, device=None, plot=True, verbose=True):
    """Build and train one LeNet variant described by the dict `settings`; append the run to `runs`.

    Keys: those of lenet_variant and train_variant, plus 'num_epochs' (default 2) and an
    optional 'label'. Returns a dict with the label, settings, parameter count and history.
    """
    settings = dict(settings)
    unknown = set(settings) - set(ARCH_KEYS) - set(TRAIN_KEYS) - {'num_epochs', 'label'}
    if unknown:
        raise ValueError(f'unknown setting(s) {", ".join(sorted(unknown))}; use {", ".join(ARCH_KEYS + TRAIN_KEYS)}, '
                         f'num_epochs or label')
    net = lenet_variant(**{k: settings[k] for k in ARCH_KEYS if k in settings})
    train_args = {k: settings[k] for k in TRAIN_KEYS if k in settings}
    train_args.setdefault('lr', 0.9)
    history = train_variant(net, train_iter, test_iter, settings.get('num_epochs', 2), device=device,
                            plot=plot, verbose=verbose, **train_args)
    run = {'label': settings.get('label') or describe(settings), 'settings': settings,
           'params': num_params(net), 'history': history}
    if runs is not None:
        runs.append(run)
    return run


def runs_table(runs):
    """A text table of explored runs: parameters, final train loss, test accuracy and time."""
    if not runs:
        return 'no runs yet'
    width = max(len('run'), *(len(r['label']) for r in runs))
    lines = [f'{"run":<{width}}  params  train loss  test acc  time (s)']
    for r in runs:
        h = r['history']
        lines.append(f"{r['label']:<{width}}  {r['params']:6d}  {h.train_loss[-1]:10.3f}  {h.test_acc[-1]:8.3f}  "
                     f"{h.seconds:8.1f}")
    return '\n'.join(lines)


def sweep(configs, train_iter, test_iter, num_epochs=2, device=None):
    """Train one run per settings dict in `configs`, showing their test accuracy live; return the runs."""
    configs = list(configs)
    labels = [c.get('label') or describe({'num_epochs': num_epochs, **c}) for c in configs]
    animator = d2l.Animator(xlabel='epoch', ylabel='test accuracy', xlim=[0.9, num_epochs + 0.1],
                            legend=labels, figsize=(6, 3), fmts=[f'C{i % 10}o-' for i in range(len(configs))])
    runs = []
    for i, config in enumerate(configs):
        run = explore_run({'num_epochs': num_epochs, 'label': labels[i], **config}, train_iter, test_iter,
                          runs, device=device, plot=False, verbose=False)
        for epoch, acc in enumerate(run['history'].test_acc, start=1):
            animator.add(epoch, [acc if j == i else None for j in range(len(configs))])
    animator.flush()
    return runs


def lenet_explorer(train_iter, test_iter, runs=None, device=None):
    """An ipywidgets panel: choose a LeNet variant, train it with a live plot, compare it with earlier runs.

    Every run is appended to `runs` (a list), so the comparison survives between clicks
    and can be inspected with runs_table(runs) afterwards.
    """
    import ipywidgets as widgets
    from IPython.display import display

    runs = [] if runs is None else runs
    style = {'description_width': '110px'}
    box = widgets.Layout(width='300px')
    w = {
        'activation': widgets.Dropdown(options=list(ACTIVATIONS), value='relu', description='activation'),
        'pooling': widgets.Dropdown(options=list(POOLING), value='max', description='pooling'),
        'kernel_size': widgets.Dropdown(options=[3, 5, 7], value=5, description='kernel size'),
        'conv1': widgets.Dropdown(options=[4, 6, 8, 16, 32], value=6, description='conv 1 channels'),
        'conv2': widgets.Dropdown(options=[8, 16, 32, 64], value=16, description='conv 2 channels'),
        'conv3': widgets.Dropdown(options=[0, 16, 32, 64], value=0, description='conv 3 channels'),
        'dense': widgets.Dropdown(options=['none', '32', '96', '120-84', '256-128'], value='120-84',
                                  description='hidden dense'),
        'batch_norm': widgets.Checkbox(value=False, description='batch norm'),
        'lr': widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=0.5, step=0.25, description='learning rate'),
        'optimizer': widgets.Dropdown(options=['sgd', 'adamw'], value='sgd', description='optimizer'),
        'momentum': widgets.Dropdown(options=[0.0, 0.9], value=0.0, description='momentum (sgd)'),
        'schedule': widgets.Dropdown(options=['constant', 'onecycle'], value='constant', description='lr schedule'),
        'init': widgets.Dropdown(options=['xavier', 'kaiming', 'default'], value='xavier', description='init'),
        'augment': widgets.Checkbox(value=False, description='random flips'),
        'num_epochs': widgets.IntSlider(value=2, min=1, max=10, description='epochs'),
    }
    for widget in w.values():
        widget.style, widget.layout = style, box
    button = widgets.Button(description='Train', button_style='primary', icon='play')
    live, compare = widgets.Output(), widgets.Output()

    def settings():
        channels = [w['conv1'].value, w['conv2'].value] + ([w['conv3'].value] if w['conv3'].value else [])
        dense = [] if w['dense'].value == 'none' else [int(d) for d in w['dense'].value.split('-')]
        s = {k: w[k].value for k in ('activation', 'pooling', 'kernel_size', 'batch_norm', 'lr', 'optimizer',
                                     'momentum', 'schedule', 'init', 'augment', 'num_epochs')}
        s['lr'] = float(f"{s['lr']:.3g}")
        return {**s, 'channels': channels, 'dense': dense, 'same_padding': len(channels) > 2}

    def train(_=None):
        button.disabled = True
        live.clear_output()
        try:
            with live:
                explore_run(settings(), train_iter, test_iter, runs, device=device)
        finally:
            button.disabled = False
        show_comparison()

    def show_comparison():
        compare.clear_output(wait=True)
        with compare:
            finished = [r for r in runs if r['history'].test_acc]
            if finished:
                print(runs_table(finished))
                display(d2l.plot_histories([r['history'] for r in finished], [r['label'] for r in finished]))

    button.on_click(train)
    show_comparison()
    keys = list(w)
    controls = widgets.HBox([widgets.VBox([w[k] for k in keys[:8]]), widgets.VBox([w[k] for k in keys[8:]] + [button])])
    return widgets.VBox([controls, live, compare])


def improved_lenet():
    """Exercise 2's solution: a LeNet with ReLU, max pooling, batch norm, 16/32 channels and one hidden dense layer."""
    return lenet_variant(channels=(16, 32), kernel_size=5, activation='relu', pooling='max', dense=(96,),
                         batch_norm=True)


def train_improved(net, train_iter, test_iter, num_epochs=10, device=None, augment=True):
    """Train `net` with exercise 2's recipe: Nesterov SGD, one-cycle schedule, Kaiming init, random flips."""
    return train_variant(net, train_iter, test_iter, num_epochs, lr=0.2, device=device, optimizer='sgd',
                         momentum=0.9, weight_decay=5e-4, schedule='onecycle', init='kaiming', augment=augment)


__all__ = ['ACTIVATIONS', 'POOLING', 'lenet_variant', 'num_params', 'init_weights', 'random_flip', 'train_variant', 'ARCH_KEYS', 'TRAIN_KEYS', 'describe', 'explore_run', 'runs_table', 'sweep', 'lenet_explorer', 'improved_lenet', 'train_improved']
