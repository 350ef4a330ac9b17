"""Full-reference metrics of one region: SR and LR against HR, on the project's fixed scale.

Delegates to ``deeplight.eval.metrics`` (PSNR, SSIM, CC on normalised radiance
``log1p(r)/log1p(1000)``, data range 1, 8-pixel border crop, valid pixels only), with the validity
mask restricted to the region's pixels. LR enters as its nominal radiance (inverse of the nominal
DMSP-like response, ``deeplight.contracts.nominal_dn_to_radiance``) repeated onto the HR grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deeplight.contracts import SCALE, nominal_dn_to_radiance, normalize_radiance


def lr_nominal_radiance_on_hr_grid(lr_dn: np.ndarray) -> np.ndarray:
    """(h, w) LR DN -> (8h, 8w) nominal radiance (nW/cm^2/sr), each LR pixel repeated 8x8."""
    radiance = nominal_dn_to_radiance(lr_dn.astype(np.float32))
    return np.repeat(np.repeat(radiance, SCALE, axis=0), SCALE, axis=1).astype(np.float32)


def region_metrics(
    products: dict[str, np.ndarray], hr: np.ndarray, region_mask: np.ndarray, with_ssim: bool = True
) -> pd.DataFrame:
    """PSNR (dB), SSIM and CC of each product against HR over the region.

    Args:
        products: name -> (8h, 8w) radiance (nW/cm^2/sr), e.g. ``{"LR (nominal)": ..., "SR": ...}``.
        hr: (8h, 8w) reference radiance, NaN = nodata.
        region_mask: (8h, 8w) bool, True inside the region.
        with_ssim: compute SSIM too (the slowest metric: about 4 s for 600x900 pixels on one core).

    Returns:
        One row per product: ``product, psnr_db, ssim, cc, pixels``; NaN where a metric is undefined
        (e.g. SSIM on a region smaller than its 11x11 window).
    """
    # Imported here: torchmetrics takes ~3 s to import, which the first map should not wait for.
    from deeplight.eval.metrics import correlation, psnr, ssim

    hr_n = normalize_radiance(hr.astype(np.float64))
    hr_n = np.where(np.isfinite(hr), hr_n, np.nan)
    rows = []
    for name, product in products.items():
        valid = region_mask & np.isfinite(hr) & np.isfinite(product)
        prod_n = normalize_radiance(np.nan_to_num(product.astype(np.float64)))
        border = 8 if min(hr.shape) > 16 else 0
        rows.append(
            {
                "product": name,
                "psnr_db": psnr(prod_n, hr_n, valid, border),
                "ssim": ssim(prod_n, hr_n, valid, border) if with_ssim else float("nan"),
                "cc": correlation(prod_n, hr_n, valid, border),
                "pixels": int(valid.sum()),
            }
        )
    return pd.DataFrame(rows)
