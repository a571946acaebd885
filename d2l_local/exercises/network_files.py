"""Hand a network design from one exercise to the next, without shipping any solution in the package.

Exercise 2 ends with ``save_network(net, 'improved_lenet', recipe)``: an untrained copy of
the network (its architecture with freshly drawn weights) and its training recipe go
to a file in the work folder. Exercise 3 starts with ``load_network('improved_lenet',
fallback=...)`` and trains that design on another data set; when there is no usable
file it says so in one sentence and goes on with the fallback.
"""
from __future__ import annotations

import copy
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from ..messages import say
from ..datasets import chosen_folder, default_folder
from .recipes import Recipe

WORK_DIR_ENV = 'D2L_WORK_DIR'
DEFAULT_WORK_DIR = default_folder('work')  # the course's work/ folder, else a user cache (as for the data)
_FORMAT = 1  # version of the saved dict
_NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*')

# A fallback for load_network: what to say it is, and how to build it.
Fallback = tuple[str, Callable[[], tuple[nn.Module, Recipe]]]


def work_dir(folder: str | os.PathLike | None = None) -> Path:
    """The folder for saved networks: ``folder`` if given, else $D2L_WORK_DIR, else ``DEFAULT_WORK_DIR``."""
    return chosen_folder(folder, WORK_DIR_ENV, DEFAULT_WORK_DIR)


def _path(name: str, folder: str | os.PathLike | None) -> Path:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f'name must be a file name without a folder or extension, made of letters, digits, '
                         f"'_', '-' and '.', e.g. 'improved_lenet'; got {name!r}")
    return work_dir(folder) / f'{name}.pt'


def _notebook_classes(net: nn.Module) -> list[str]:
    return sorted({type(m).__qualname__ for m in net.modules() if type(m).__module__ == '__main__'})


def save_network(net: nn.Module, name: str, recipe: Recipe | None = None,
                 folder: str | os.PathLike | None = None) -> Path:
    """Save an untrained copy of ``net`` and ``recipe`` as ``<folder>/<name>.pt``; return the file's path.

    The copy has the same architecture with its parameters reset (``reset_parameters()``
    on every module that has one, which also clears batch-norm statistics): what is
    handed on is the design, not the trained weights. ``net`` itself is not changed. The
    file is written atomically, so an interrupted save never leaves a broken file.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f'net must be a torch.nn.Module, got {type(net).__name__}')
    if recipe is not None and not isinstance(recipe, Recipe):
        raise TypeError(f'recipe must be a d2l.Recipe or None, got {type(recipe).__name__}')
    path = _path(name, folder)
    untrained = copy.deepcopy(net).cpu().train()
    for module in untrained.modules():
        reset = getattr(module, 'reset_parameters', None)
        if callable(reset):
            reset()
    payload = {'format': _FORMAT, 'net': untrained, 'recipe': None if recipe is None else asdict(recipe)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    local = _notebook_classes(net)
    if local:
        print(say("saved_with_local", path=path, names=", ".join(local)))
    return path


class _Unusable(Exception):
    """Why a saved network cannot be loaded (one clause) and how to fix that."""

    def __init__(self, reason: str, fix: str, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.fix, self.missing = reason, fix, missing


def _first_line(err: BaseException, limit: int = 120) -> str:
    text = (str(err).strip().splitlines() or [''])[0]
    return f'{type(err).__name__}: {text[:limit]}{"..." if len(text) > limit else ""}'


def _read(path: Path) -> tuple[nn.Module, Recipe]:
    """The network and recipe saved in ``path``; raises ``_Unusable`` saying why not."""
    save_again = say('save_again', name=path.stem)
    if not path.is_file():
        raise _Unusable(say('no_saved_network', name=path.stem, folder=path.parent), save_again, missing=True)
    try:
        payload = torch.load(path, map_location='cpu', weights_only=False)
    except (AttributeError, ImportError) as err:  # pickle names a class or module that does not exist here
        match = re.search(r"attribute '([^']+)'", str(err))
        missing = match.group(1) if match else getattr(err, 'name', None) or _first_line(err)
        raise _Unusable(f'The network saved in {path} is built from {missing}, which is defined in another '
                        f'notebook, not here',
                        f'Define {missing} in this notebook (copy its cell) before loading, or save a network '
                        f'built by d2l.lenet_variant, which every notebook can load') from err
    except Exception as err:
        raise _Unusable(f'The file {path} could not be read ({_first_line(err)})', save_again) from err
    if not (isinstance(payload, dict) and payload.get('format') == _FORMAT
            and isinstance(payload.get('net'), nn.Module)):
        raise _Unusable(f'The file {path} was not written by d2l.save_network', save_again)
    try:
        recipe = Recipe() if payload.get('recipe') is None else Recipe(**payload['recipe'])
    except (TypeError, ValueError) as err:
        raise _Unusable(f'The recipe saved in {path} does not fit this version of d2l_local ({_first_line(err)})',
                        save_again) from err
    return payload['net'], recipe


def load_network(name: str, fallback: Fallback | None = None,
                 folder: str | os.PathLike | None = None) -> tuple[nn.Module, Recipe]:
    """Load the untrained network and the recipe saved by ``save_network(net, name, ...)``.

    A network saved without a recipe comes with ``Recipe()``. When the file is missing,
    unreadable, or needs a class defined in another notebook: with ``fallback=(description,
    make)`` print one sentence saying so and return ``make()``, which must return
    ``(net, recipe)``; without a fallback raise ``FileNotFoundError`` (no file) or
    ``ValueError`` (an unusable file) saying why and how to fix it.
    """
    if fallback is not None and not (isinstance(fallback, tuple) and len(fallback) == 2
                                     and isinstance(fallback[0], str) and callable(fallback[1])):
        raise TypeError('fallback must be a pair (description, make): a short text saying what make() builds, '
                        f'and a function returning (net, recipe); got {fallback!r}')
    path = _path(name, folder)
    try:
        return _read(path)
    except _Unusable as err:
        if fallback is None:
            error = FileNotFoundError if err.missing else ValueError
            raise error(f'{err.reason}. {err.fix}.') from err.__cause__
        description, make = fallback
        print(say('uses_fallback', reason=err.reason, description=description, fix=err.fix))
        made = make()
        if not (isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], nn.Module)
                and isinstance(made[1], Recipe)):
            raise TypeError(f'the fallback for {description} must return (net, recipe), a torch.nn.Module and '
                            f'a d2l.Recipe; got {made!r}')
        return made
