"""Label file -> tf.data pipeline: decode once into memory, augment, batch, prefetch.

Packed shards are read by `stream.py` instead; both paths end in `batches` here (same
augmentation, same normalization), and both decode with the same loader.

Images are decoded with `images.load_resized` (PIL, bilinear resize of the whole image), the
same function `predict` uses, so training sees exactly the pixels the exported model will see.
Labels are each head's kind's columns (class indices with -1 for "no label" for classification);
the masked losses of the head kinds skip unknown ones.
Augmentation keeps colour true (the colour head's whole signal): geometric transforms, mild
brightness and contrast applied equally to R, G and B, and never a hue or saturation shift.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from pipeline.heads.schema import Heads
from pipeline.data.images import load_batch, normalize
from pipeline.core.tfcompat import tf

# Augmentation strengths: small enough that a rose stays a rose and pink stays pink.
MAX_ROTATION_DEG = 10.0
# Random resized crops: the crop covers this fraction of the image's area, with this range of
# aspect ratios (width / height), then fills the model's square input.
CROP_AREA = (0.4, 1.0)
CROP_ASPECT = (3 / 4, 4 / 3)
BRIGHTNESS = 12.0  # +- pixel levels, the same for R, G and B
CONTRAST = (0.85, 1.15)  # around the image's grey mean, the same factor for R, G and B


def load_arrays(samples, size: int, heads: Heads) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, size, size, 3], float32 label matrix [N, heads.width]) of samples whose
    labels are the model's heads' columns (labels.select_heads)."""
    return load_batch([s.path for s in samples], size), heads.encode(samples)


def _crop_sides(batch):
    """Width and height of random resized crops, as fractions of the image's (at most 1)."""
    t = tf()
    area = t.random.uniform([batch], *CROP_AREA)
    log_aspect = t.random.uniform([batch], math.log(CROP_ASPECT[0]), math.log(CROP_ASPECT[1]))
    aspect = t.exp(log_aspect)
    return t.minimum(t.sqrt(area * aspect), 1.0), t.minimum(t.sqrt(area / aspect), 1.0)


def _transforms(batch, size: int):
    """Per-image projective transforms (output -> input coords): a random resized crop
    (anywhere inside the image), a horizontal flip and a small rotation about the centre."""
    t = tf()
    angle = t.random.uniform([batch], -1.0, 1.0) * (MAX_ROTATION_DEG * math.pi / 180.0)
    width, height = _crop_sides(batch)
    flip = t.where(t.random.uniform([batch]) < 0.5, -1.0, 1.0)
    tx = t.random.uniform([batch], -1.0, 1.0) * (1.0 - width) * size / 2.0
    ty = t.random.uniform([batch], -1.0, 1.0) * (1.0 - height) * size / 2.0
    cos, sin = t.cos(angle), t.sin(angle)
    a0, a1, b0, b1 = cos * width * flip, -sin * height, sin * width * flip, cos * height
    c = (size - 1) / 2.0
    a2 = c + tx - a0 * c - a1 * c
    b2 = c + ty - b0 * c - b1 * c
    zeros = t.zeros([batch])
    return t.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def augment(images):
    """A batch of uint8 images -> float32 0..255, geometrically and photometrically jittered."""
    t = tf()
    shape = t.shape(images)
    batch, size = shape[0], images.shape[1]
    x = t.raw_ops.ImageProjectiveTransformV3(
        images=t.cast(images, t.float32), transforms=_transforms(batch, size),
        output_shape=shape[1:3], fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")
    grey = t.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    contrast = t.random.uniform([batch, 1, 1, 1], *CONTRAST)
    bright = t.random.uniform([batch, 1, 1, 1], -BRIGHTNESS, BRIGHTNESS)
    x = (x - grey) * contrast + grey + bright
    return t.clip_by_value(x, 0.0, 255.0)


@dataclass(frozen=True)
class Feed:
    """How one input pipeline reads a split.

    shards/shard: this pipeline's part of the data (one per worker: sample i goes to
    pipeline i % shards). repeat + drop_remainder: an endless stream of full batches, for
    distributed training (every replica steps in lockstep; Keras is given steps per epoch).
    pad_to: append unlabelled blank images up to this many, so every worker evaluates the
    same number of batches (the masked metrics ignore them)."""
    batch_size: int
    training: bool
    seed: int = 0
    shards: int = 1
    shard: int = 0
    repeat: bool = False
    drop_remainder: bool = False
    pad_to: int | None = None


def dataset_from_arrays(images: np.ndarray, labels: np.ndarray, config, heads: Heads,
                        batch_size: int, training: bool, seed: int = 0):
    """tf.data of (normalized image, {head name: class index or -1}), batched, prefetched."""
    return arrays_dataset(images, labels, config, heads, Feed(batch_size, training, seed))


def arrays_dataset(images: np.ndarray, labels: np.ndarray, config, heads: Heads, feed: Feed):
    """The in-memory path: arrays already holding this pipeline's shard."""
    t = tf()
    if feed.pad_to is not None and feed.pad_to > len(images):
        extra = feed.pad_to - len(images)
        images = np.concatenate([images, np.zeros((extra, *images.shape[1:]), np.uint8)])
        labels = np.concatenate([labels, np.tile(heads.missing_row(), (extra, 1))])
    ds = t.data.Dataset.from_tensor_slices((images, labels))
    if feed.training:
        ds = ds.shuffle(len(images), seed=feed.seed, reshuffle_each_iteration=True)
    return batches(ds, config, heads, feed)


def batches(ds, config, heads: Heads, feed: Feed, decode=None):
    """(uint8 image, int32 labels [H]) elements -> batches of (normalized float32 image,
    {head name: labels}): the one place both input paths batch, augment and normalize, so
    the model sees the same pixels from memory and from packed shards. decode: turns a
    batch of stored elements into (uint8 images, labels) first."""
    t = tf()
    if feed.repeat:
        ds = ds.repeat()
    ds = ds.batch(feed.batch_size, drop_remainder=feed.drop_remainder)

    @t.autograph.experimental.do_not_convert  # plain graph code; autograph only adds noise
    def prepare(*element):
        x, labels = decode(*element) if decode else element
        x = augment(x) if feed.training else x
        targets = {head.name: labels[:, s.start] if s.stop - s.start == 1 else labels[:, s]
                   for head, s in zip(heads, heads.slices())}
        return normalize(tf().cast(x, tf().float32), config.normalization), targets

    ds = ds.map(prepare, num_parallel_calls=t.data.AUTOTUNE, deterministic=not feed.training)
    return ds.prefetch(t.data.AUTOTUNE)


def make_dataset(samples, config, heads: Heads, batch_size: int, training: bool,
                 seed: int = 0):
    """Samples of a label file -> the training (augmented, shuffled) or evaluation dataset.

    Reused by the QAT stage so fine-tuning sees the same pixels, masks and augmentation.
    """
    images, labels = load_arrays(samples, config.image_size, heads)
    if training and len(images) < batch_size:
        warnings.warn(f"only {len(images)} training images for batch size {batch_size}")
    return dataset_from_arrays(images, labels, config, heads, batch_size, training, seed)
