"""Datasets: readers for the real layouts, `ClipDataset`, augmentations, samplers, feature cache, and the
espeak-ng spoken-keyword generator (`synth`)."""

from aum.data.augment import AugmentConfig, Augmenter
from aum.data.build import DATA_FORMATS, SplitIndex, build_dataset, parse_data_config, read_examples
from aum.data.cache import FeatureCache
from aum.data.dataset import ClipDataset, collate, make_loader, set_epoch
from aum.data.examples import DataFormatError, Example, read_label_csv
from aum.data.readers import esc50_cross_validation, noise_files
from aum.data.sampler import BalancedSampler, EpochSampler, balanced_weights
from aum.data.source import DataConfig

__all__ = [
    "DATA_FORMATS",
    "AugmentConfig",
    "Augmenter",
    "BalancedSampler",
    "ClipDataset",
    "DataConfig",
    "DataFormatError",
    "EpochSampler",
    "Example",
    "FeatureCache",
    "SplitIndex",
    "balanced_weights",
    "build_dataset",
    "collate",
    "esc50_cross_validation",
    "make_loader",
    "noise_files",
    "parse_data_config",
    "read_examples",
    "read_label_csv",
    "set_epoch",
]
