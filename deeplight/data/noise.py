"""Fast procedural noise for the synthetic scene generator (numpy FFT, no loops over pixels)."""

from __future__ import annotations

import numpy as np


def fractal_noise(shape: tuple[int, int], beta: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian random field with power spectrum ``P(f) ~ f**-beta``, standardised.

    Spectral synthesis of fractional Brownian surfaces (Saupe 1988, "Algorithms for random
    fractals", in The Science of Fractal Images): ``beta`` about 3 gives natural-looking terrain,
    smaller values rougher textures.

    Args:
        shape: ``(height, width)`` in pixels.
        beta: spectral exponent (> 0).
        rng: numpy random generator (the only source of randomness).

    Returns:
        ``(height, width)`` float64 array with mean 0 and standard deviation 1.
    """
    height, width = shape
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    freq = np.sqrt(fy * fy + fx * fx)
    freq[0, 0] = 1.0
    amplitude = freq ** (-beta / 2.0)
    amplitude[0, 0] = 0.0
    spectrum = rng.standard_normal(amplitude.shape) + 1j * rng.standard_normal(amplitude.shape)
    field = np.fft.irfft2(spectrum * amplitude, s=(height, width))
    std = field.std()
    return (field - field.mean()) / (std if std > 0 else 1.0)


def rescale01(values: np.ndarray) -> np.ndarray:
    """Linearly map an array onto [0, 1] (constant arrays give 0)."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros_like(values, dtype=np.float64)
    return (values - low) / (high - low)
