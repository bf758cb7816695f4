"""BRISQUE (Mittal et al., 2012) with the model that ships in the `brisque` package.

Why not `brisque.BRISQUE().score()`: with numpy >= 2.4 it raises "only 0-dimensional arrays can
be converted to Python scalars". Its AGGD fit divides by `x.shape` (a tuple) instead of `x.size`,
so two of the four parameters of every fit come out as 1-element arrays, and `float()` of a
1-d array, deprecated since numpy 1.25, is an error since 2.4. Importing `brisque` also patches
`scipy.ndarray` process-wide and pulls in scikit-image and requests.

So the 36 features are computed here, vectorised with OpenCV (same definitions as the package:
gray in [0, 1] with its Rec.709 weights, 7x7 Gaussian window with sigma 7/6 and zero padding,
C = 1/255, AGGD fits of the MSCN map and its four pairwise products, at full and half size),
and the package's bundled SVR model (`models/svm.txt`, `models/normalize.pickle`, found on disk
without importing the package) predicts the score with libsvm. The shape parameter of each fit
is read from the table the original MATLAB code uses (0.2 to 10 in steps of 0.001) instead of a
root finder; the model's feature ranges show that quantisation.

Score: about 0 (pristine) to 100 (badly distorted); lower is better.
"""

from __future__ import annotations

import importlib.util
import math
import pickle
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidcurate.core.errors import ConfigError

_ALPHAS = np.arange(0.2, 10.0, 0.001)
_RHO = np.array([math.gamma(2 / a) ** 2 / (math.gamma(1 / a) * math.gamma(3 / a)) for a in _ALPHAS])
_WINDOW = cv2.getGaussianKernel(7, 7 / 6) @ cv2.getGaussianKernel(7, 7 / 6).T
_RGB2GRAY = np.array([0.2125, 0.7154, 0.0721], np.float32)  # skimage.color.rgb2gray, as the model expects
_INSTALL = "pip install brisque (in vidcurate[ml])"


def model_dir() -> Path:
    """The `brisque` package's models folder, located without importing the package."""
    spec = importlib.util.find_spec("brisque")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"quality_brisque needs the BRISQUE model from the brisque package: {_INSTALL}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    for name in ("svm.txt", "normalize.pickle"):
        if not (folder / name).is_file():
            raise ConfigError(f"BRISQUE model file {folder / name} is missing; reinstall it: {_INSTALL}")
    return folder


class Brisque:
    """Loads the bundled SVR once; `score(rgb)` gives one image's BRISQUE score."""

    def __init__(self) -> None:
        folder = model_dir()
        try:
            from libsvm import svmutil
        except ImportError as e:
            raise ConfigError(f"quality_brisque needs libsvm ({e}): pip install libsvm-official") from None
        self._svm = svmutil
        self.model = svmutil.svm_load_model(str(folder / "svm.txt"))
        if self.model is None:
            raise ConfigError(f"cannot read the BRISQUE model {folder / 'svm.txt'}: {_INSTALL}")
        with open(folder / "normalize.pickle", "rb") as f:
            ranges: dict[str, Any] = pickle.load(f)
        self.lo = np.asarray(ranges["min_"], np.float64)
        self.hi = np.asarray(ranges["max_"], np.float64)

    def score(self, rgb: np.ndarray) -> float:
        """BRISQUE of an (H, W, 3) uint8 RGB or (H, W) gray image."""
        scaled = -1.0 + 2.0 * (features(rgb) - self.lo) / (self.hi - self.lo)
        nodes, _ = self._svm.gen_svm_nodearray([float(v) for v in scaled])
        return float(self._svm.libsvm.svm_predict(self.model, nodes))


def features(img: np.ndarray) -> np.ndarray:
    """The 36 BRISQUE features: 18 at full size, 18 at half size."""
    gray = img.astype(np.float32) / 255.0
    if gray.ndim == 3:
        gray = gray @ _RGB2GRAY
    gray = gray.astype(np.float64)
    half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)
    return np.concatenate([_scale_features(gray), _scale_features(half)])


def mscn(gray: np.ndarray) -> np.ndarray:
    """Mean-subtracted, contrast-normalised coefficients (local Gaussian window, zero padding)."""
    mu = cv2.filter2D(gray, -1, _WINDOW, borderType=cv2.BORDER_CONSTANT)
    sigma = np.sqrt(np.abs(cv2.filter2D(gray * gray, -1, _WINDOW, borderType=cv2.BORDER_CONSTANT) - mu * mu))
    return (gray - mu) / (sigma + 1.0 / 255.0)


def _scale_features(gray: np.ndarray) -> list[float]:
    m = mscn(gray)
    alpha, _, left, right = aggd_fit(m)
    out = [alpha, (left**2 + right**2) / 2]
    for prod in (m[:, :-1] * m[:, 1:], m[:-1, :] * m[1:, :], m[:-1, :-1] * m[1:, 1:], m[1:, :-1] * m[:-1, 1:]):
        alpha, mean, left, right = aggd_fit(prod)
        out += [alpha, mean, left**2, right**2]
    return out


def aggd_fit(x: np.ndarray) -> tuple[float, float, float, float]:
    """Asymmetric generalised Gaussian fit: (shape alpha, mean, left sigma, right sigma)."""
    x = x.ravel()
    neg, pos = x[x < 0], x[x >= 0]
    left = float(np.sqrt(np.mean(neg * neg))) if neg.size else 0.0
    right = float(np.sqrt(np.mean(pos * pos))) if pos.size else 0.0
    mean_sq = float(np.mean(x * x))
    if left == 0.0 or right == 0.0 or mean_sq == 0.0:
        return 10.0, 0.0, left, right  # flat image: no spread on one side, the flattest shape
    g = left / right
    r_hat = float(np.mean(np.abs(x))) ** 2 / mean_sq
    big_r = r_hat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    alpha = float(_ALPHAS[np.argmin((_RHO - big_r) ** 2)])
    const = math.sqrt(math.gamma(1 / alpha) / math.gamma(3 / alpha))
    mean = (right - left) * const * math.gamma(2 / alpha) / math.gamma(1 / alpha)
    return alpha, mean, left, right
