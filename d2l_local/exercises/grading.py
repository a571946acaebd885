"""Answers as plain data, for an autograder that does not trust the student's kernel.

While ``tools/instructor/release.py grade`` runs a handed-in notebook, each check cell's hidden part
calls ``export(question, name=lambda: value, ...)``: the answers are written into the
folder ``$D2L_GRADING_DIR`` as data only (a network as its list of ``torch.nn`` layers and
its weights, a training run as its numbers, tensors as tensors). The grader then reads
them in a process of its own with ``read_answers`` and ``rebuild_net``, which run none of
the student's code, and judges them there. Outside grading ``export`` does nothing.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

import torch
from torch import nn

from ..messages import say
from .recipes import Recipe
from ..training import TrainHistory

GRADING_DIR_ENV = 'D2L_GRADING_DIR'
MAX_PARAMS = 5_000_000  # a rebuilt network larger than this is refused before it is allocated
MAX_JSON_BYTES = 2_000_000
MAX_TENSOR_BYTES = 64_000_000

# The layers a graded network may be made of, with the constructor arguments that define each.
LAYERS: dict[str, tuple[type[nn.Module], tuple[str, ...]]] = {
    cls.__name__: (cls, args) for cls, args in [
        (nn.Conv2d, ('in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'dilation', 'groups',
                     'bias', 'padding_mode')),
        (nn.Linear, ('in_features', 'out_features', 'bias')),
        (nn.BatchNorm1d, ('num_features', 'eps', 'momentum', 'affine', 'track_running_stats')),
        (nn.BatchNorm2d, ('num_features', 'eps', 'momentum', 'affine', 'track_running_stats')),
        (nn.MaxPool2d, ('kernel_size', 'stride', 'padding', 'dilation', 'ceil_mode')),
        (nn.AvgPool2d, ('kernel_size', 'stride', 'padding', 'ceil_mode', 'count_include_pad', 'divisor_override')),
        (nn.AdaptiveAvgPool2d, ('output_size',)),
        (nn.AdaptiveMaxPool2d, ('output_size',)),
        (nn.Flatten, ('start_dim', 'end_dim')),
        (nn.Dropout, ('p',)),
        (nn.Dropout2d, ('p',)),
        (nn.LeakyReLU, ('negative_slope',)),
        (nn.ELU, ('alpha',)),
        (nn.GELU, ('approximate',)),
        *[(cls, ()) for cls in (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.SiLU, nn.Mish, nn.Hardswish, nn.Identity)],
    ]}


class AnswerError(Exception):
    """An answer that cannot be read or rebuilt; the message says why, for the student, in their language."""


def describe_net(net: nn.Module) -> list[dict]:
    """``net`` (an ``nn.Sequential``, possibly nested) as a list of layers with their arguments."""
    if type(net) is not nn.Sequential:
        raise AnswerError(say('needs_sequential', kind=type(net).__name__))
    spec = []
    for i, (key, layer) in enumerate(net.named_children()):
        name = type(layer).__name__
        if type(layer) is nn.Sequential:
            item = {'type': 'Sequential', 'layers': describe_net(layer)}
        elif name in LAYERS and LAYERS[name][0] is type(layer):
            args = {arg: (layer.bias is not None) if arg == 'bias' else getattr(layer, arg) for arg in LAYERS[name][1]}
            item = {'type': name, 'args': {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}}
        else:
            raise AnswerError(say('unknown_layer', layers=', '.join(sorted(LAYERS)), name=name))
        spec.append(item if key == str(i) else {**item, 'name': key})  # a layer named in an OrderedDict keeps it
    return spec


def _build(spec: object) -> nn.Sequential:
    if not isinstance(spec, list):
        raise AnswerError(say('not_a_layer_list'))
    layers = OrderedDict()
    for i, item in enumerate(spec):
        if not isinstance(item, dict) or not isinstance(item.get('type'), str):
            raise AnswerError(say('not_a_layer', item=item))
        key = item.get('name', str(i))
        if not isinstance(key, str) or not key or '.' in key or key in layers:
            raise AnswerError(say('not_a_layer_name', name=key))
        if item['type'] == 'Sequential':
            layers[key] = _build(item.get('layers'))
            continue
        if item['type'] not in LAYERS:
            raise AnswerError(say('not_a_rebuilt_layer', layer=item['type']))
        cls, names = LAYERS[item['type']]
        args = item.get('args', {})
        if not isinstance(args, dict) or set(args) - set(names):
            raise AnswerError(say('unexpected_arguments', layer=item['type'], args=args))
        try:
            layers[key] = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in args.items()})
        except (TypeError, ValueError, RuntimeError) as error:
            raise AnswerError(say('cannot_build', layer=item['type'], args=args, error=error)) from error
    return nn.Sequential(layers)


def rebuild_net(spec: object, state: dict[str, torch.Tensor] | None = None) -> nn.Sequential:
    """The network that ``describe_net`` described, with the weights in ``state`` if given.

    It is first built on PyTorch's meta device, which allocates nothing, so that a described
    network too large to grade is refused before it takes any memory.
    """
    with torch.device('meta'):
        size = sum(p.numel() for p in _build(spec).parameters())
    if size > MAX_PARAMS:
        raise AnswerError(say('too_large_to_grade', size=size, limit=MAX_PARAMS))
    net = _build(spec)
    if state is not None:
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as error:
            raise AnswerError(say('weights_do_not_fit', error=str(error).splitlines()[0])) from error
    return net


def _as_data(value: object, key: str, tensors: dict[str, torch.Tensor]) -> dict:
    """One answer as JSON-ready data; its tensors go into ``tensors`` under keys that start with ``key``."""
    if isinstance(value, nn.Module):
        for name, tensor in value.state_dict().items():
            tensors[f'{key}:{name}'] = tensor.detach().cpu().clone()
        return {'kind': 'net', 'layers': describe_net(value)}
    if isinstance(value, TrainHistory):
        return {'kind': 'history', **asdict(value)}
    if isinstance(value, Recipe):
        return {'kind': 'recipe', **asdict(value)}
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().cpu().clone()
        return {'kind': 'tensor'}
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return {'kind': 'strings', 'value': list(value)}
    raise AnswerError(say('cannot_take', kind=type(value).__name__))


def _explain(error: BaseException) -> str:
    if isinstance(error, NameError):
        return say('export_undefined', error=error)
    if isinstance(error, AnswerError):
        return str(error)
    return say('raised', error=type(error).__name__, detail=error)


def export(question: str, **answers: Callable[[], object]) -> None:
    """Write question ``question``'s answers (each given as a function that returns it) for the grader.

    An answer that cannot be computed or taken is written as its reason, for the verdict.
    Outside grading (no ``$D2L_GRADING_DIR``) it does nothing.
    """
    root = os.environ.get(GRADING_DIR_ENV)
    if not root:
        return
    data, tensors = {}, {}
    for name, get in answers.items():
        try:
            data[name] = _as_data(get(), name, tensors)
        except Exception as error:  # the reason goes to the verdict, as check_answer would say it
            data[name] = {'kind': 'error', 'message': _explain(error)}
    folder = Path(root) / f'q{question}'
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(tensors, folder / 'tensors.pt')
    (folder / 'answers.json').write_text(json.dumps(data), encoding='utf-8')


def read_answers(root: str | os.PathLike, question: str) -> dict[str, object] | None:
    """Question ``question``'s exported answers, rebuilt as objects; None if none were exported.

    Networks come back as ``nn.Sequential`` with their weights, runs as ``TrainHistory``,
    recipes as ``Recipe``; an answer that could not be taken comes back as ``AnswerError``.
    Only data is read (``weights_only``), never code.
    """
    folder = Path(root) / f'q{question}'
    json_path, tensor_path = folder / 'answers.json', folder / 'tensors.pt'
    if any(path.is_symlink() for path in (Path(root), folder, json_path, tensor_path)):
        raise AnswerError(say('exported_elsewhere'))
    if not json_path.is_file():
        return None
    if json_path.stat().st_size > MAX_JSON_BYTES or not tensor_path.is_file() \
            or tensor_path.stat().st_size > MAX_TENSOR_BYTES:
        raise AnswerError(say('exported_missing'))
    try:
        data = json.loads(json_path.read_text(encoding='utf-8'))
        tensors = torch.load(tensor_path, weights_only=True, map_location='cpu')
    except Exception as error:  # a damaged export is the submission's, said in one line
        raise AnswerError(say('exported_unreadable', error=type(error).__name__)) from error
    if not isinstance(data, dict) or not isinstance(tensors, dict):
        raise AnswerError(say('exported_misshapen'))
    return {name: _from_data(item, name, tensors) for name, item in data.items()}


def _from_data(item: object, key: str, tensors: dict) -> object:
    kind = item.get('kind') if isinstance(item, dict) else None
    try:
        if kind == 'net':
            prefix = f'{key}:'
            return rebuild_net(item['layers'], {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        if kind == 'history':
            names = {f.name for f in fields(TrainHistory)}
            return TrainHistory(**{k: v for k, v in item.items() if k in names})
        if kind == 'recipe':
            names = {f.name for f in fields(Recipe)}
            return Recipe(**{k: v for k, v in item.items() if k in names})
        if kind == 'tensor' and isinstance(tensors.get(key), torch.Tensor):
            return tensors[key]
        if kind == 'strings':
            return list(item['value'])
        if kind == 'error':
            return AnswerError(str(item.get('message', '')))
    except AnswerError as error:
        return error
    except (TypeError, ValueError, KeyError) as error:
        return AnswerError(say('answer_not_rebuilt', name=key, error=error))
    return AnswerError(say('answer_misshapen', name=key))
