"""CIFAR-10-C, built here: the 15 corruptions (Hendrycks & Dietterich, 2019) generated from our own CIFAR-10 images.

Chapter 5 (Section 5.2.2) reports "Corruption CE": cross-entropy on CIFAR-10-C at severity 3. CIFAR-10-C
cannot be downloaded here, so this module re-creates it. The per-severity parameters and the algorithm of
every corruption follow Hendrycks's generator for the 32x32 dataset, ``ImageNet-C/create_c/make_cifar_c.py``
in github.com/hendrycks/robustness (its CIFAR parameters differ from ImageNet-C's). The code here is an
independent, batch-vectorised re-implementation with numpy / scipy.ndimage / Pillow; it does not import
OpenCV, scikit-image or ImageMagick. Randomness comes from a ``numpy.random.Generator`` seeded from
``(seed, corruption index, severity)``, so the *pixels* of noise-based corruptions are not the same draws as
the published CIFAR-10-C files (those came from the unseeded global RNG), only the same distribution.

Public API: :data:`CORRUPTIONS`, :func:`corrupt` and :func:`check_available`. The metric scored on these
images, the corruption CE, is :func:`thesis_lib.training.metrics.corruption_ce`.

Each corruption (``c`` = the CIFAR-10-C parameter at the given severity, listed for severities 1..5)
-------------------------------------------------------------------------------------------------------
gaussian_noise    x + N(0, c^2) per element, c = .04 .06 .08 .09 .10 (x in [0, 1]).
shot_noise        Poisson(x * c) / c, c = 500 250 100 75 50.
impulse_noise     salt & pepper: each element (pixel *and* channel, as scikit-image's ``random_noise``
                  did) is flipped with probability c = .01 .02 .03 .05 .07, to 1 or 0 with equal odds.
defocus_blur      filter with an anti-aliased disk: (radius, alias sigma) = (.3,.4) (.4,.5) (.5,.6) (1,.2)
                  (1.5,.1); the 17x17 aliased disk is smoothed by a 3x3 Gaussian (OpenCV's GaussianBlur
                  kernel) and correlated with each channel with reflect-101 borders (OpenCV's filter2D).
glass_blur        Gaussian blur (sigma), truncate to uint8, then for ``iterations`` passes every pixel
                  (h, w), h, w in 31..2, takes the value of (h+dy, w+dx) with dx, dy drawn from {-1, 0}
                  (``randint(-1, 1)``: the original's upper bound is exclusive), then blur again.
                  (sigma, max_delta, iterations) = (.05,1,1) (.25,1,1) (.4,1,1) (.25,1,2) (.4,1,2).
                  The original's tuple "swap" of two numpy views is in fact a one-way copy (the second
                  assignment writes back the value just copied); we reproduce that copy, which is what
                  produced the released images. Because every source pixel is visited after its
                  destination, one pass is exactly a gather from the pre-pass image, so it is vectorised.
motion_blur       ImageMagick ``MotionBlurImage`` re-implemented: a one-sided line kernel of width
                  2*ceil(radius)+1 with weights exp(-i^2 / (2 sigma^2)) (normalised), tap i offset by
                  (ceil(i cos a - .5), ceil(i sin a - .5)) pixels (x, y), edge-replicated borders, result
                  quantised to 8 bits as ImageMagick Q16 does (round to 16 bits, floor(q / 257)); this
                  matched ``convert -motion-blur`` of ImageMagick 6.9.11 Q16 pixel-for-pixel in our check.
                  Angle a ~ U(-45, 45) degrees per image.
                  (radius, sigma) = (6,1) (6,1.5) (6,2) (8,2) (9,2.5).
zoom_blur         average of the image and centre-crop zooms (scipy.ndimage.zoom, order 1) by every factor
                  in ``np.arange(1, end, .01)``, end = 1.06 1.11 1.16 1.21 1.26.
snow              a N(loc, scale) snow layer, zoomed (centre crop), thresholded, truncated to 8 bits,
                  motion-blurred (as above, angle ~ U(-135, -45)), added twice (once rotated 180 degrees)
                  to the image, which is first blended towards max(x, 1.5 * grey + .5).
                  (loc, scale, zoom, threshold, blur radius, blur sigma, blend) = (.1,.2,1,.6,8,3,.95)
                  (.1,.2,1,.5,10,4,.9) (.15,.3,1.75,.55,10,4,.9) (.25,.3,2.25,.6,12,6,.85)
                  (.3,.3,1.25,.65,14,12,.8). Grey = .299 R + .587 G + .114 B (OpenCV's RGB2GRAY).
frost             c1 * x + c2 * frost texture, (c1, c2) = (1,.2) (1,.3) (.9,.4) (.85,.4) (.75,.45). The
                  texture is one of frost1..frost5 chosen uniformly (the original's ``randint(5)`` never
                  picks frost6), resized by 0.2 with OpenCV-style bilinear resampling (at a scale of
                  exactly 1/5 that samples source pixel 5k+2, so it is done as strided sampling) and a
                  random 32x32 crop. The textures are read from the ``imagecorruptions`` PyPI package
                  (Apache-2.0; installed with ``--no-deps``, never imported: only its ``frost/`` data
                  files are used), which ships Hendrycks's six frost images. PNG alpha is dropped (as
                  ``cv2.imread`` does). Without that package ``frost`` raises a clear error.
fog               x + c1 * plasma fractal (diamond-square on a 32x32 map, with the original's
                  ``wibble * U(-wibble, wibble)`` perturbation, normalised to [0, 1]), rescaled by
                  max/(max + c1). (c1, wibble decay) = (.2,3) (.5,3) (.75,2.5) (1,2) (1.5,1.75).
brightness        HSV value channel + c, clipped, c = .05 .1 .15 .2 .3. Done without an HSV round trip:
                  with hue and saturation fixed, RGB is proportional to V, so rgb' = rgb * V'/V (and a
                  black pixel, whose saturation is 0, becomes grey V') -- the same result up to float
                  rounding as scikit-image's rgb2hsv/hsv2rgb.
contrast          (x - per-channel image mean) * c + mean, c = .75 .5 .4 .3 .15.
elastic_transform random affine (three control points jittered by U(-c3, c3)) with bilinear sampling and
                  reflect-101 borders, then a smooth displacement field: Gaussian(sigma=c2, reflect,
                  truncate 3) of U(-1, 1) noise, times c1, sampled bilinearly with reflect borders.
                  (c1, c2, c3) = 32 * (0,0,.08) (.05,.2,.07) (.08,.06,.06) (.1,.04,.05) (.1,.03,.03).
pixelate          Pillow BOX resize to int(32 c) and back, c = .95 .9 .85 .75 .65.
jpeg_compression  Pillow JPEG round trip, quality = 80 65 58 50 40.

Every corruption except jpeg/pixelate ends as in the original: clip to [0, 255] and convert with
``np.uint8`` (truncation, not rounding). All operations act on float64 images in [0, 1] unless noted.

Deviations from the original generator (all small; none changes a parameter)
---------------------------------------------------------------------------
* Random draws: a seeded numpy Generator instead of the global RNG (same distributions, other pixels).
* motion_blur / snow: ImageMagick is replaced by the re-implementation of its motion-blur kernel above
  (it follows MagickCore's MotionBlurImage; the PNG round trips of the original are lossless and are
  skipped). It matched ImageMagick 6.9.11 Q16 exactly; a build with another quantum depth / HDRI could
  differ by 1 grey level.
* defocus_blur, elastic_transform, snow, frost: OpenCV calls are re-implemented with scipy/numpy
  (GaussianBlur kernel, filter2D, warpAffine, cvtColor, resize). OpenCV's float ``warpAffine`` quantises
  sample positions to 1/32 pixel; scipy's ``affine_transform`` does not (sub-1/255 differences).
* glass_blur, elastic_transform: scikit-image's ``gaussian`` is scipy's ``gaussian_filter`` with the
  same mode and truncation (identical); glass blur's two shuffle draws per pixel are drawn as arrays.
* brightness: algebraic shortcut for the HSV round trip (see above; float-rounding level).
* impulse_noise: the element-wise salt & pepper of scikit-image <= 0.16 (the version of the time).
* frost: textures from the ``imagecorruptions`` package (assumed byte-identical to Hendrycks's files), read
  by Pillow instead of OpenCV (JPEG decoders may differ by +-1 grey level).
* Published CIFAR-10-C was produced with the scikit-image / scipy versions of 2018; interpolation edge
  handling (scipy's ``reflect`` mode was fixed in scipy 1.6) may differ at the image border.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = ["CORRUPTIONS", "check_available", "corrupt"]

CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness", "contrast",
    "elastic_transform", "pixelate", "jpeg_compression",
)

SIZE = 32

# ---------------------------------------------------------------------------------------------------------
# helpers


def _gray(x: np.ndarray) -> np.ndarray:
    """OpenCV RGB2GRAY weights; x: (..., 3) -> (...)."""
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def _gaussian_spatial(x: np.ndarray, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> np.ndarray:
    """scikit-image ``gaussian(..., multichannel=True)`` on a batch (N, H, W, C): blur H and W only."""
    return ndimage.gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode=mode, truncate=truncate)


def _clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    """Centre-crop 1/factor of the image and zoom it back (order-1 spline), batch (N, H, W, C)."""
    h = x.shape[1]
    ch = int(np.ceil(h / factor))
    top = (h - ch) // 2
    # order-1 zoom is a tensor product of 1-D linear interpolations: build the 1-D interpolation matrix with
    # scipy.ndimage.zoom itself (zooming an identity) and apply it to rows and columns of the whole batch;
    # equal to ndimage.zoom(x, (1, factor, factor, 1), order=1) up to float rounding, and ~20x faster.
    w = ndimage.zoom(np.eye(ch), (factor, 1), order=1)  # (out, ch)
    trim = (w.shape[0] - h) // 2
    w = w[trim:trim + h].astype(x.dtype)
    crop = x[:, top:top + ch, top:top + ch]
    return np.einsum("ij,njkc,lk->nilc", w, crop, w, optimize=True)


def _motion_blur(x: np.ndarray, radius: float, sigma: float, angles: np.ndarray) -> np.ndarray:
    """ImageMagick MotionBlurImage on a batch (N, H, W, C) of floats in [0, 255], one angle (degrees) per
    image; returns values quantised to 8 bits the way ImageMagick Q16 writes an 8-bit PNG."""
    width = int(2 * math.ceil(radius) + 1)
    i = np.arange(width, dtype=np.float64)
    kernel = np.exp(-(i * i) / (2.0 * sigma * sigma))
    kernel /= kernel.sum()
    n, h, w, _ = x.shape
    pad = width - 1
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    out = np.empty_like(x, dtype=np.float64)
    for k in range(n):
        a = math.radians(float(angles[k]))
        px, py = width * math.sin(a), width * math.cos(a)
        hyp = math.hypot(px, py)
        acc = np.zeros(x.shape[1:], dtype=np.float64)
        for t in range(width):
            ox = int(math.ceil(t * py / hyp - 0.5))  # column offset
            oy = int(math.ceil(t * px / hyp - 0.5))  # row offset
            acc += kernel[t] * padded[k, pad + oy:pad + oy + h, pad + ox:pad + ox + w]
        out[k] = acc
    # ImageMagick Q16: round to a 16-bit quantum, then the 8-bit PNG writer takes floor(q / 257). This
    # reproduces `convert -motion-blur RxS+A` (ImageMagick 6.9.11 Q16) exactly on test images.
    q = np.floor(np.clip(out, 0, 255) * 257 + 0.5)
    return np.floor(q / 257)


def _plasma_fractal(n: int, rng: np.random.Generator, mapsize: int = SIZE, wibbledecay: float = 3) -> np.ndarray:
    """Diamond-square height maps (N, mapsize, mapsize) in [0, 1], as in the original plasma_fractal."""
    m = np.zeros((n, mapsize, mapsize), dtype=np.float64)
    step = mapsize
    wibble = 100.0

    def wibbled_mean(a: np.ndarray) -> np.ndarray:
        return a / 4 + wibble * rng.uniform(-wibble, wibble, a.shape)

    while step >= 2:
        half = step // 2
        corner = m[:, 0:mapsize:step, 0:mapsize:step]
        sq = corner + np.roll(corner, -1, axis=1)
        sq = sq + np.roll(sq, -1, axis=2)
        m[:, half:mapsize:step, half:mapsize:step] = wibbled_mean(sq)
        dr = m[:, half:mapsize:step, half:mapsize:step].copy()
        ul = m[:, 0:mapsize:step, 0:mapsize:step].copy()
        lt = dr + np.roll(dr, 1, axis=1) + ul + np.roll(ul, -1, axis=2)
        m[:, 0:mapsize:step, half:mapsize:step] = wibbled_mean(lt)
        tt = dr + np.roll(dr, 1, axis=2) + ul + np.roll(ul, -1, axis=1)
        m[:, half:mapsize:step, 0:mapsize:step] = wibbled_mean(tt)
        step //= 2
        wibble /= wibbledecay
    m -= m.min(axis=(1, 2), keepdims=True)
    return m / m.max(axis=(1, 2), keepdims=True)


def _per_image_pil(x: np.ndarray, fn) -> np.ndarray:
    out = np.empty_like(x)
    for k in range(x.shape[0]):
        out[k] = np.asarray(fn(Image.fromarray(x[k])).convert("RGB"), dtype=np.uint8)
    return out


# ---------------------------------------------------------------------------------------------------------
# corruptions: each takes uint8 (N, 32, 32, 3), a severity index s in 0..4 and a Generator, and returns
# either floats in [0, 255] (converted by ``np.uint8`` truncation afterwards) or uint8.


def _gaussian_noise(x, s, rng):
    c = [0.04, 0.06, 0.08, 0.09, 0.10][s]
    x = x / 255.0
    return np.clip(x + rng.normal(size=x.shape, scale=c), 0, 1) * 255


def _shot_noise(x, s, rng):
    c = [500, 250, 100, 75, 50][s]
    x = x / 255.0
    return np.clip(rng.poisson(x * c) / c, 0, 1) * 255


def _impulse_noise(x, s, rng):
    c = [0.01, 0.02, 0.03, 0.05, 0.07][s]
    x = x / 255.0
    flipped = rng.random(x.shape) < c
    salted = rng.random(x.shape) < 0.5
    x = np.where(flipped & salted, 1.0, np.where(flipped & ~salted, 0.0, x))
    return np.clip(x, 0, 1) * 255


def _disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    # CIFAR radii are all <= 8: a 17x17 support and a 3x3 Gaussian anti-alias (OpenCV getGaussianKernel)
    L = np.arange(-8, 8 + 1)
    X, Y = np.meshgrid(L, L)
    disk = ((X ** 2 + Y ** 2) <= radius ** 2).astype(np.float64)
    disk /= disk.sum()
    g = np.exp(-(np.arange(-1, 2) ** 2) / (2 * alias_blur ** 2))
    g /= g.sum()
    k = ndimage.correlate1d(disk, g, axis=0, mode="mirror")
    k = ndimage.correlate1d(k, g, axis=1, mode="mirror")
    # crop the exact-zero margin (correlation with zeros adds nothing), keeping the kernel centred
    nz = np.nonzero(k)
    r = int(max(np.abs(nz[0] - 8).max(), np.abs(nz[1] - 8).max()))
    return k[8 - r:8 + r + 1, 8 - r:8 + r + 1]


def _defocus_blur(x, s, rng):
    c = [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)][s]
    x = x / 255.0
    k = _disk_kernel(*c)
    out = ndimage.correlate(x, k[None, :, :, None], mode="mirror")  # filter2D: reflect-101 border
    return np.clip(out, 0, 1) * 255


def _glass_blur(x, s, rng):
    sigma, delta, iterations = [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)][s]
    x = np.uint8(_gaussian_spatial(x / 255.0, sigma) * 255)
    n = x.shape[0]
    pos = np.arange(SIZE - delta, delta, -1)  # 31 .. 2
    lo, hi = pos.min(), pos.max() + 1
    bidx = np.arange(n)[:, None, None]
    for _ in range(iterations):
        d = rng.integers(-delta, delta, size=(2, n, len(pos), len(pos)))  # dx, dy in [-delta, delta)
        rows = np.arange(lo, hi)[None, :, None] + d[1]
        cols = np.arange(lo, hi)[None, None, :] + d[0]
        x[:, lo:hi, lo:hi] = x[bidx, rows, cols]  # one-way copy, see module docstring
    return np.clip(_gaussian_spatial(x / 255.0, sigma), 0, 1) * 255


def _motion_blur_c(x, s, rng):
    radius, sigma = [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)][s]
    angles = rng.uniform(-45, 45, size=x.shape[0])
    return _motion_blur(x.astype(np.float64), radius, sigma, angles)


def _zoom_blur(x, s, rng):
    end = [1.06, 1.11, 1.16, 1.21, 1.26][s]
    factors = np.arange(1, end, 0.01)
    x = (x / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for f in factors:
        out += _clipped_zoom(x, f)
    x = (x + out) / (len(factors) + 1)
    return np.clip(x, 0, 1) * 255


def _snow(x, s, rng):
    c = [(0.1, 0.2, 1, 0.6, 8, 3, 0.95),
         (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
         (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
         (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
         (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)][s]
    n = x.shape[0]
    x = np.asarray(x, dtype=np.float32) / 255.0
    layer = rng.normal(size=(n, SIZE, SIZE, 1), loc=c[0], scale=c[1])
    layer = _clipped_zoom(layer, c[2])
    layer[layer < c[3]] = 0
    layer = (np.clip(layer, 0, 1) * 255).astype(np.uint8).astype(np.float64)
    angles = rng.uniform(-135, -45, size=n)
    layer = _motion_blur(layer, c[4], c[5], angles) / 255.0
    grey = _gray(x)[..., None] * 1.5 + 0.5
    x = c[6] * x + (1 - c[6]) * np.maximum(x, grey)
    return np.clip(x + layer + np.rot90(layer, k=2, axes=(1, 2)), 0, 1) * 255


def check_available() -> None:
    """Raise (with the fix) when a corruption's outside files are missing, i.e. the frost textures: called before a
    Chapter 5 run trains and by run_all.sh's pre-flight, so a run never dies in its evaluation after training."""
    try:
        _frost_textures()
    except (OSError, ValueError) as err:  # a missing or unreadable texture file inside the package
        raise NotImplementedError(f"frost's texture images are unreadable ({err}). Fix: reinstall them with "
                                  f"pip install --no-deps --force-reinstall imagecorruptions==1.1.2") from err


@functools.lru_cache(maxsize=1)
def _frost_textures() -> tuple[np.ndarray, ...]:
    spec = importlib.util.find_spec("imagecorruptions")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise NotImplementedError(
            "frost needs Hendrycks's frost texture images, which are not available offline; they are shipped "
            "by the PyPI package 'imagecorruptions' (Apache-2.0). Install it without its heavy dependencies: "
            "pip install --no-deps imagecorruptions==1.1.2")
    folder = Path(list(spec.submodule_search_locations)[0]) / "frost"
    names = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg"]  # randint(5): never frost6
    textures = []
    for name in names:
        with Image.open(folder / name) as im:
            t = np.asarray(im.convert("RGB"), dtype=np.uint8)  # drop alpha like cv2.imread; RGB order
        h, w = t.shape[:2]
        # cv2.resize(fx=fy=0.2, INTER_LINEAR): output round(0.2 * size); source coordinate 5k + 2 (integral)
        rows = np.minimum(5 * np.arange(int(round(h * 0.2))) + 2, h - 1)
        cols = np.minimum(5 * np.arange(int(round(w * 0.2))) + 2, w - 1)
        textures.append(np.ascontiguousarray(t[rows][:, cols]))
    return tuple(textures)


def _frost(x, s, rng):
    c = [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)][s]
    textures = _frost_textures()
    n = x.shape[0]
    idx = rng.integers(len(textures), size=n)
    frost = np.empty(x.shape, dtype=np.float64)
    for k in range(n):
        t = textures[idx[k]]
        r0 = rng.integers(0, t.shape[0] - SIZE)
        c0 = rng.integers(0, t.shape[1] - SIZE)
        frost[k] = t[r0:r0 + SIZE, c0:c0 + SIZE]
    return np.clip(c[0] * x.astype(np.float64) + c[1] * frost, 0, 255)


def _fog(x, s, rng):
    c = [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)][s]
    x = x / 255.0
    max_val = x.max(axis=(1, 2, 3), keepdims=True)
    x = x + c[0] * _plasma_fractal(x.shape[0], rng, wibbledecay=c[1])[..., None]
    return np.clip(x * max_val / (max_val + c[0]), 0, 1) * 255


def _brightness(x, s, rng):
    c = [0.05, 0.1, 0.15, 0.2, 0.3][s]
    x = x / 255.0
    v = x.max(axis=-1, keepdims=True)
    v_new = np.clip(v + c, 0, 1)
    safe = np.where(v > 0, v, 1.0)
    out = np.where(v > 0, x * (v_new / safe), v_new)
    return np.clip(out, 0, 1) * 255


def _contrast(x, s, rng):
    c = [0.75, 0.5, 0.4, 0.3, 0.15][s]
    x = x / 255.0
    means = x.mean(axis=(1, 2), keepdims=True)
    return np.clip((x - means) * c + means, 0, 1) * 255


def _elastic_transform(x, s, rng):
    alpha, sigma, affine = [(0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06),
                            (0.1, 0.04, 0.05), (0.1, 0.03, 0.03)][s]
    alpha, sigma, affine = SIZE * alpha, SIZE * sigma, SIZE * affine
    x = np.asarray(x, dtype=np.float32) / 255.0
    n = x.shape[0]
    center = np.float32([SIZE, SIZE]) // 2
    sq = SIZE // 3
    pts1 = np.float64([center + sq, [center[0] + sq, center[1] - sq], center - sq])  # (x, y) points
    yy, xx = np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij")
    out = np.empty_like(x)
    for k in range(n):
        pts2 = pts1 + rng.uniform(-affine, affine, size=pts1.shape).astype(np.float32)
        # getAffineTransform: dst = A @ src + b;  warpAffine samples src at inverse(A, b) applied to dst
        src = np.hstack([pts1, np.ones((3, 1))])
        M = np.linalg.solve(src, pts2).T  # (2, 3)
        Ai = np.linalg.inv(M[:, :2])
        bi = -Ai @ M[:, 2]
        # to (row, col) coordinates
        mat = np.eye(3)
        mat[:2, :2] = Ai[::-1, ::-1]
        offset = np.array([bi[1], bi[0], 0.0])
        img = ndimage.affine_transform(x[k], mat, offset=offset, order=1, mode="mirror")
        dx = ndimage.gaussian_filter(rng.uniform(-1, 1, size=(SIZE, SIZE)), sigma, mode="reflect",
                                     truncate=3) * alpha
        dy = ndimage.gaussian_filter(rng.uniform(-1, 1, size=(SIZE, SIZE)), sigma, mode="reflect",
                                     truncate=3) * alpha
        dx, dy = dx.astype(np.float32), dy.astype(np.float32)
        for ch in range(3):
            out[k, :, :, ch] = ndimage.map_coordinates(img[:, :, ch], [yy + dy, xx + dx], order=1,
                                                       mode="reflect")
    return np.clip(out, 0, 1) * 255


def _pixelate(x, s, rng):
    c = [0.95, 0.9, 0.85, 0.75, 0.65][s]
    small = int(SIZE * c)
    return _per_image_pil(x, lambda im: im.resize((small, small), Image.BOX).resize((SIZE, SIZE), Image.BOX))


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


def _jpeg_compression(x, s, rng):
    q = [80, 65, 58, 50, 40][s]
    return _per_image_pil(x, lambda im: _jpeg(im, q))


_FUNCS = {
    "gaussian_noise": _gaussian_noise, "shot_noise": _shot_noise, "impulse_noise": _impulse_noise,
    "defocus_blur": _defocus_blur, "glass_blur": _glass_blur, "motion_blur": _motion_blur_c,
    "zoom_blur": _zoom_blur, "snow": _snow, "frost": _frost, "fog": _fog, "brightness": _brightness,
    "contrast": _contrast, "elastic_transform": _elastic_transform, "pixelate": _pixelate,
    "jpeg_compression": _jpeg_compression,
}
assert tuple(_FUNCS) == CORRUPTIONS


def corrupt(images_uint8: np.ndarray, name: str, severity: int = 3, seed: int = 0) -> np.ndarray:
    """Apply CIFAR-10-C corruption ``name`` at ``severity`` (1-5) to a batch of uint8 images (N, 32, 32, 3).

    Returns a new uint8 array of the same shape. Deterministic for a given ``seed``; the random stream is
    seeded from ``(seed, index of name, severity)`` (``seed`` a non-negative int) so different corruptions do
    not share draws. The input is not modified.
    """
    if name not in _FUNCS:
        raise ValueError(f"unknown corruption {name!r}; expected one of {', '.join(CORRUPTIONS)}")
    if isinstance(severity, (bool, np.bool_)) or not isinstance(severity, (int, np.integer)) \
            or not 1 <= int(severity) <= 5:
        raise ValueError(f"severity must be an integer from 1 to 5, got {severity!r}")
    x = np.asarray(images_uint8)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (SIZE, SIZE, 3):
        raise ValueError(f"images must be uint8 of shape (N, {SIZE}, {SIZE}, 3), got {x.dtype} {x.shape}")
    if x.shape[0] == 0:
        return x.copy()
    rng = np.random.default_rng([int(seed), CORRUPTIONS.index(name), int(severity)])
    out = _FUNCS[name](x.copy(), int(severity) - 1, rng)
    if out.dtype == np.uint8:
        return out
    return np.uint8(np.clip(out, 0, 255))  # truncation, as the original's np.uint8(...)
