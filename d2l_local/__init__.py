"""Helpers for the LeNet course: a drop-in for ``from d2l import torch as d2l`` in the LeNet chapter.

The chapter's core is in this folder: devices, datasets and loaders, metrics, plotting, and
``training`` (what ``train_ch6`` keeps while it trains), with its safety nets in ``safety``.
The book code that the notebooks mark ``#@save`` is generated into ``saved/`` by
``python tools/maintainer/sync_d2l_local.py``. The exercise notebooks' tooling lives in
``exercises/``. Every name a notebook uses is exported here, so notebooks write ``d2l.<name>``.
"""
from .aliases import (arange, argmax, astype, concat, float32, int32, int64, numpy, ones, reduce_mean,
                      reduce_sum, reshape, size, stack, tensor, zeros)
from .datasets import (DATA_DIR_ENV, CorruptDatasetError, DatasetNotFoundError, DownloadWaitError,
                       get_fashion_mnist_labels)
from .messages import language, say, use_language
from .devices import DeviceUnavailableError, check_device, set_seed, try_all_gpus, try_gpu
from .loaders import TensorBatches, load_data_fashion_mnist, load_data_mnist
from .metrics import Accumulator, Timer, accuracy
from .plotting import Animator, hidden_animators, new_figure, show_figures_inline, show_images
from .safety import (LossExplodedError, NonFiniteLossError, TrainingDivergedError, check_classifier)
from .training import TrainHistory, TrainingRun, last_history

from .exercises.variants import ACTIVATIONS, POOLING, lenet_variant, num_params
from .exercises.recipes import RandomFlips, Recipe, make_optimizer, random_flip, train_with_recipe
from .exercises.experiments import (describe, explore_run, plot_histories, results_table, runs_table,
                                    seeds_table, sweep, train_seeds)
from .exercises.confusion import confusion_matrix, misclassified, most_confused, plot_confusion_matrix
from .exercises.network_files import load_network, save_network
from .exercises.feature_maps import class_counts, feature_maps, pick_examples, plot_feature_maps, plot_filters
from .exercises.widgets import feature_map_explorer, lenet_explorer
from .exercises import checks, grading
from .exercises.checks import check_answer


from .saved import *  # noqa: E402,F401,F403  (the book code; d2l_local/saved/__init__.py lists it)

show_figures_inline()  # in a notebook, each cell's figures appear under that cell, with any matplotlib
