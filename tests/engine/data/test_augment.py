"""engine.data augmentation, adaptation and loaders, against independent oracles: torch.flip, an exhaustive search
over crop offsets, torchvision's rotate, numpy's covariance eigen-decomposition, torch's mean/std, PIL's bilinear
resize and engine.media.images' luma."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

from engine.data import (
    AugmentConfig,
    ImageSet,
    adapt_batch,
    augment_batch,
    channel_stats,
    describe_adaptation,
    load_dataset,
    make_loader,
    pca_basis,
    preview_augmentations,
)
from engine.data.augment import rotate
from engine.data.loader import resize
from engine.media.images import to_gray


@pytest.fixture(scope="module")
def shapes_set() -> ImageSet:
    return load_dataset("shapes", seed=0, max_train=256).train


@pytest.fixture(scope="module")
def digits_set() -> ImageSet:
    return load_dataset("digits", seed=0).train


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------------ config


def test_config_defaults_and_validation():
    assert not AugmentConfig().active and AugmentConfig().describe() == "none"
    full = AugmentConfig(hflip=True, crop_padding=4, rotation=15, color_jitter=0.2, color_shift=0.1, pca_color=0.1)
    assert full.active and full.describe() == ("horizontal flip, random crop (padding 4 px), rotation up to ±15°, "
                                               "colour jitter ±20%, colour shift ±0.1, PCA colour (σ = 0.1)")
    for bad, message in [(dict(crop_padding=-1), "crop_padding must be an integer from 0 to 64"),
                         (dict(crop_padding=2.5), "crop_padding"), (dict(rotation=200), "rotation must be a number"),
                         (dict(color_jitter=1.5), "color_jitter"), (dict(pca_color=-0.1), "pca_color"),
                         (dict(hflip=1), "hflip must be True or False")]:
        with pytest.raises(ValueError, match=message):
            AugmentConfig(**bad)
    assert hash(full) == hash(AugmentConfig(**vars(full)))  # frozen: usable as a cache key


# ------------------------------------------------------------------------------------------------ each augmentation


def test_hflip_flips_about_half_exactly(shapes_set):
    x = shapes_set.images[:64]
    out = augment_batch(x, AugmentConfig(hflip=True), _gen())
    plain, flipped = x.float() / 255, torch.flip(x, dims=[-1]).float() / 255
    same = [torch.equal(out[i], plain[i]) for i in range(64)]
    mirrored = [torch.equal(out[i], flipped[i]) for i in range(64)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 16 < sum(mirrored) < 48


def test_random_crop_is_a_window_of_the_zero_padded_image(shapes_set):
    x, pad = shapes_set.images[:16], 3
    out = augment_batch(x, AugmentConfig(crop_padding=pad), _gen(1))
    assert out.dtype == torch.float32 and out.shape == x.shape and 0 <= out.min() and out.max() <= 1
    padded = torch.nn.functional.pad(x, (pad,) * 4).float() / 255
    offsets = set()
    for i in range(16):  # the slow oracle: try every offset
        hits = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                if torch.equal(out[i], padded[i, :, dy : dy + 32, dx : dx + 32])]
        assert hits, f"image {i} is no window of its padded original"
        offsets.add(hits[0])
    assert len(offsets) > 4  # offsets vary per image


def test_rotation_matches_torchvision_and_keeps_the_range(shapes_set):
    x = shapes_set.images[:4].float() / 255
    for deg in (25.0, -40.0):
        ref = TF.rotate(x, deg, interpolation=InterpolationMode.BILINEAR)
        assert torch.allclose(rotate(x, torch.full((4,), deg)), ref, atol=1e-5)
    wide = torch.rand(2, 1, 12, 20)  # a non-square image rotates rigidly too
    assert torch.allclose(rotate(wide, torch.tensor([30.0, 30.0])),
                          TF.rotate(wide, 30.0, interpolation=InterpolationMode.BILINEAR), atol=1e-5)
    out = augment_batch(shapes_set.images[:32], AugmentConfig(rotation=30), _gen())
    assert out.dtype == torch.float32 and out.shape == (32, 3, 32, 32) and 0 <= out.min() and out.max() <= 1


def test_colour_jitter_and_shift_keep_shape_and_range_and_vary_per_image(shapes_set, digits_set):
    for data in (shapes_set, digits_set):
        x = data.images[:32]
        for cfg in (AugmentConfig(color_jitter=0.5), AugmentConfig(color_shift=0.2)):
            out = augment_batch(x, cfg, _gen())
            assert out.shape == x.shape and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
            change = (out - x.float() / 255).mean(dim=(1, 2, 3))
            assert change.std() > 0.01  # each image its own factors


def test_pca_basis_matches_numpy(shapes_set):
    eigvals, eigvecs = pca_basis(shapes_set.images)
    pixels = shapes_set.images.permute(1, 0, 2, 3).reshape(3, -1).numpy() / 255.0
    ref_vals, ref_vecs = np.linalg.eigh(np.cov(pixels))
    assert np.allclose(eigvals.numpy(), ref_vals[::-1], rtol=1e-4)
    for i in range(3):  # eigenvectors up to sign
        assert abs(float(np.dot(eigvecs[:, i].numpy(), ref_vecs[:, 2 - i]))) == pytest.approx(1.0, abs=1e-4)


def test_pca_colour_shifts_colour_but_keeps_the_picture(shapes_set):
    x = (shapes_set.images[:32].float() * 0.5 + 64).round().to(torch.uint8)  # mid-range: nothing clips
    pca = pca_basis(shapes_set.images)
    out = augment_batch(x, AugmentConfig(pca_color=1.0), _gen(), pca)
    delta = out - x.float() / 255  # (B, 3, H, W)
    # every pixel of an image moves by the same RGB vector ...
    assert delta.flatten(2).std(dim=2).max() < 1e-5
    shift = delta[:, :, 0, 0]  # (B, 3)
    assert shift.abs().max() > 0.01
    # ... which lies in the span of the eigenvectors weighted by α_i λ_i: check it against the basis
    coords = shift @ pca[1]  # (B, 3): α_i λ_i
    assert torch.allclose(coords @ pca[1].T, shift, atol=1e-5)
    # the luminance structure is untouched: gray images before and after correlate perfectly
    lum = lambda t: (t * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0).flatten()  # noqa: E731
    for i in range(8):
        assert torch.corrcoef(torch.stack([lum(out[i]), lum(x[i].float())]))[0, 1] > 0.999


def test_pca_colour_is_a_no_op_on_gray(digits_set):
    x = digits_set.images[:8]
    out = augment_batch(x, AugmentConfig(pca_color=1.0), _gen())
    assert torch.equal(out, x.float() / 255)


# ------------------------------------------------------------------------------------------------ stats & adaptation


def test_channel_stats_match_torch(shapes_set, digits_set):
    for data in (shapes_set, digits_set):
        x = data.images.float() / 255
        stats = channel_stats(data)
        mean, std = stats.mean, stats.std
        assert np.allclose(mean, x.mean(dim=(0, 2, 3)).numpy(), atol=1e-5)
        assert np.allclose(std, x.std(dim=(0, 2, 3), unbiased=False).numpy(), atol=1e-5)
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64)[:, None, None]
    luma = (shapes_set.images.double() / 255 * weights).sum(1)
    gray = channel_stats(shapes_set, channels=1)
    mean, std = gray.mean, gray.std
    assert mean[0] == pytest.approx(float(luma.mean())) and std[0] == pytest.approx(float(luma.std(unbiased=False)))
    assert channel_stats(digits_set, channels=3).mean == pytest.approx(channel_stats(digits_set).mean * 3)


def test_adapt_batch_channels_against_engine_images(shapes_set, digits_set):
    rgb = shapes_set.images[:4]
    gray = adapt_batch(rgb, (1, 32, 32), None)
    ref = np.stack([to_gray(im.permute(1, 2, 0).numpy() / 255.0) for im in rgb])
    assert gray.shape == (4, 1, 32, 32) and np.allclose(gray[:, 0].numpy(), ref, atol=1e-6)
    three = adapt_batch(digits_set.images[:4], (3, 8, 8), None)
    assert three.shape == (4, 3, 8, 8) and torch.equal(three[:, 0], three[:, 2])
    assert torch.equal(three[:, 1], digits_set.images[:4, 0].float() / 255)


@pytest.mark.parametrize("size", [32, 20, 5])
def test_adapt_batch_resizes_like_pil_bilinear(digits_set, size):
    x = load_dataset("mnist5k").val.images[:3] if size != 5 else digits_set.images[:3]
    out = adapt_batch(x, (1, size, size), None)
    for i in range(3):
        ref = Image.fromarray(x[i, 0].numpy().astype(np.float32)).resize((size, size), Image.Resampling.BILINEAR)
        assert np.allclose(out[i, 0].numpy(), np.asarray(ref) / 255.0, atol=1e-5)


def test_adapt_batch_normalises_and_checks_its_inputs(digits_set):
    out = adapt_batch(digits_set.images[:2], (1, 8, 8), ((0.5,), (0.25,)))
    assert torch.allclose(out, (digits_set.images[:2].float() / 255 - 0.5) / 0.25)
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\)"):
        adapt_batch(digits_set.images[:2], (8, 8), None)
    with pytest.raises(ValueError, match="1 \\(gray\\) or 3 \\(RGB\\) channels; got 4"):
        adapt_batch(digits_set.images[:2], (4, 8, 8), None)
    with pytest.raises(ValueError, match="every std must be positive"):
        adapt_batch(digits_set.images[:2], (1, 8, 8), ((0.5,), (0.0,)))


def test_describe_adaptation():
    assert (describe_adaptation((1, 28, 28), (1, 32, 32), ((0.286,), (0.353,)))
            == "28×28 gray → resized to 32×32, 1 channel; normalised with mean 0.286, std 0.353")
    assert (describe_adaptation((1, 8, 8), (3, 8, 8), None)
            == "8×8 gray → gray repeated to 3 channels; not normalised (values in [0, 1])")
    assert describe_adaptation((3, 32, 32), (3, 32, 32), ((0.5, 0.4, 0.3), (0.2, 0.2, 0.2))) == (
        "32×32 RGB, as stored; normalised per channel with mean (0.500, 0.400, 0.300), std (0.200, 0.200, 0.200)")
    assert "turned to gray" in describe_adaptation((3, 64, 64), (1, 224, 224), None)


# ------------------------------------------------------------------------------------------------ loaders


def test_loader_batches_are_normalised_over_the_train_set(shapes_set):
    stats = channel_stats(shapes_set)
    loader = make_loader(shapes_set, (3, 32, 32), batch_size=100, shuffle=False, seed=0, stats=stats)
    batches = list(loader)
    assert len(loader) == len(batches) == 3 and [len(y) for _, y in batches] == [100, 100, 56]
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.shape == (256, 3, 32, 32)
    assert torch.equal(y, shapes_set.labels)  # no shuffle: labels in order, unchanged
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)


def test_loader_adapts_gray_to_the_networks_input(digits_set):
    stats = channel_stats(digits_set, channels=3)
    loader = make_loader(digits_set, (3, 32, 32), batch_size=64, shuffle=True, seed=0, stats=stats, drop_last=True)
    assert len(loader) == len(digits_set) // 64
    x, y = next(iter(loader))
    assert x.shape == (64, 3, 32, 32) and y.shape == (64,)
    assert abs(float(x.mean())) < 0.2  # upsampling keeps the mean near 0 (the std shrinks a little: smoothing)


def test_augmented_loader_keeps_labels_and_shapes_and_is_reproducible(shapes_set):
    aug = AugmentConfig(hflip=True, crop_padding=4, rotation=20, color_jitter=0.3, color_shift=0.1, pca_color=0.5)
    stats = channel_stats(shapes_set)

    def epoch(seed):
        loader = make_loader(shapes_set, (3, 28, 28), batch_size=64, shuffle=True, seed=seed, augment=aug, stats=stats)
        return [b for b in loader]

    a, b, c = epoch(0), epoch(0), epoch(1)
    assert all(x.shape == (len(y), 3, 28, 28) and x.dtype == torch.float32 for x, y in a)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b, strict=True))
    assert not torch.equal(a[0][1], c[0][1])
    ys = torch.cat([y for _, y in a])
    assert sorted(ys.tolist()) == sorted(shapes_set.labels.tolist())
    # unshuffled, augmented: labels stay with their images
    loader = make_loader(shapes_set, (3, 32, 32), batch_size=50, shuffle=False, seed=0, augment=aug, stats=stats)
    assert torch.equal(torch.cat([y for _, y in loader]), shapes_set.labels)
    # two epochs of one loader augment differently
    it = make_loader(shapes_set, (3, 32, 32), batch_size=256, shuffle=False, seed=0, augment=aug)
    first, second = next(iter(it))[0], next(iter(it))[0]
    assert not torch.equal(first, second)


def test_loader_with_a_worker_process_is_reproducible(digits_set):
    aug = AugmentConfig(hflip=True, crop_padding=2)
    small = digits_set.subset(range(200))

    def run():
        loader = make_loader(small, (1, 8, 8), batch_size=50, shuffle=True, seed=3, augment=aug, num_workers=1)
        return [b for b in loader]

    a, b = run(), run()
    assert len(a) == 4
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b, strict=True))


def test_loader_arguments_are_checked(digits_set):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        make_loader(digits_set, (1, 8, 8), batch_size=0, shuffle=False, seed=0)
    with pytest.raises(ValueError, match="normalisation needs a mean and a std of 1"):
        make_loader(digits_set, (1, 8, 8), batch_size=8, shuffle=False, seed=0, stats=((0.1, 0.2), (0.1, 0.2)))


# ------------------------------------------------------------------------------------------------ preview


def test_preview_augmentations(shapes_set):
    aug = AugmentConfig(hflip=True, rotation=30, pca_color=0.5)
    grid = preview_augmentations(shapes_set, aug, n=12, seed=4)
    assert grid.shape == (12, 3, 32, 32) and grid.dtype == torch.float32 and 0 <= grid.min() and grid.max() <= 1
    assert torch.equal(grid, preview_augmentations(shapes_set, aug, n=12, seed=4))
    assert not torch.equal(grid, preview_augmentations(shapes_set, aug, n=12, seed=5))
    one = preview_augmentations(shapes_set, aug, n=6, index=3)
    assert len({tuple(im.flatten()[:50].tolist()) for im in one}) > 1  # one image, several variants
    plain = preview_augmentations(shapes_set, AugmentConfig(), n=4, index=3)
    assert torch.equal(plain, (shapes_set.images[3:4].float() / 255).expand(4, -1, -1, -1))


@pytest.mark.parametrize(("size", "to"), [((28, 28), (32, 32)), ((8, 8), (32, 32)), ((64, 48), (224, 224)),
                                          ((480, 640), (28, 28)), ((32, 32), (20, 20)), ((100, 50), (30, 70))])
def test_resize_is_torchs_bilinear_interpolation(size, to):
    """The separable matrix resize against ``F.interpolate`` (antialiased when shrinking), up, down and mixed."""
    x = torch.rand(3, 2, *size, generator=torch.Generator().manual_seed(0))
    want = F.interpolate(x, size=to, mode="bilinear", align_corners=False,
                         antialias=to[0] < size[0] or to[1] < size[1])
    assert torch.allclose(resize(x, to), want, atol=2e-6)
