"""Helpers for the LeNet course: a drop-in for ``from d2l import torch as d2l`` in the LeNet chapter.

Hand-written helpers live in the modules below; the functions that notebooks mark
``#@save`` are copied into ``saved_*.py`` by ``python tools/sync_d2l_local.py``.
"""
from .aliases import (arange, argmax, astype, concat, float32, int32, int64, numpy, ones, reduce_mean,
                      reduce_sum, reshape, size, stack, tensor, zeros)
from .datasets import (DATA_DIR_ENV, CorruptDatasetError, DatasetNotFoundError, get_fashion_mnist_labels)
from .devices import DeviceUnavailableError, check_device, set_seed, try_all_gpus, try_gpu
from .loaders import TensorBatches, load_data_fashion_mnist, load_data_mnist
from .metrics import Accumulator, Timer, accuracy
from .plotting import Animator, new_figure, show_images
from .training import (EpochMetrics, NonFiniteLossError, StepGuard, TrainHistory, check_classifier,
                       last_history)

# BEGIN saved from notebooks (written by tools/sync_d2l_local.py)
from .saved_lenet import evaluate_accuracy_gpu, train_ch6
from .saved_lenet_ex1_max_pooling import lenet, plot_histories, results_table
from .saved_lenet_ex2_improve import ACTIVATIONS, POOLING, lenet_variant, num_params, init_weights, random_flip, train_variant, ARCH_KEYS, TRAIN_KEYS, describe, explore_run, runs_table, sweep, lenet_explorer, improved_lenet, train_improved
from .saved_lenet_ex4_feature_maps import feature_maps, pick_examples, plot_feature_maps, feature_map_explorer
# END saved from notebooks
