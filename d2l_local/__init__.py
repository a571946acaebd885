"""Helpers for the LeNet course: a drop-in for ``from d2l import torch as d2l`` in the LeNet chapter.

Hand-written helpers live in the modules below. The book code that the notebooks mark
``#@save`` is generated into the ``saved`` subpackage by ``python tools/sync_d2l_local.py``
and re-exported here.
"""
from .aliases import (arange, argmax, astype, concat, float32, int32, int64, numpy, ones, reduce_mean,
                      reduce_sum, reshape, size, stack, tensor, zeros)
from .datasets import (DATA_DIR_ENV, CorruptDatasetError, DatasetNotFoundError, DownloadWaitError,
                       get_fashion_mnist_labels)
from .devices import DeviceUnavailableError, check_device, set_seed, try_all_gpus, try_gpu
from .loaders import TensorBatches, load_data_fashion_mnist, load_data_mnist
from .metrics import Accumulator, Timer, accuracy
from .plotting import Animator, hidden_animators, new_figure, show_figures_inline, show_images
from .training import (LossExplodedError, NonFiniteLossError, TrainHistory, TrainingDivergedError, TrainingRun,
                       check_classifier, last_history)
from .variants import ACTIVATIONS, POOLING, lenet_variant, num_params
from .recipes import RandomFlips, Recipe, make_optimizer, random_flip, train_with_recipe
from .experiments import (describe, explore_run, plot_histories, results_table, runs_table, seeds_table, sweep,
                          train_seeds)
from .errors import confusion_matrix, misclassified, most_confused, plot_confusion_matrix
from .handoff import load_network, save_network
from .widgets import lenet_explorer
from .feature_map_tools import class_counts, feature_maps, pick_examples, plot_feature_maps
from .widgets import feature_map_explorer
from . import checks, grading
from .checks import check_answer


from .saved import *  # noqa: E402,F401,F403  (the book code; d2l_local/saved/__init__.py lists it)

show_figures_inline()  # in a notebook, each cell's figures appear under that cell, with any matplotlib
