"""The streaming accumulator: rows written once, in order, with memory of one tile row."""

from __future__ import annotations

import numpy as np

from deeplight.infer.blending import BlendingAccumulator
from deeplight.infer.tiling import plan_tiles


def test_rows_are_flushed_once_in_order_and_blend_to_the_constant():
    h, w, tile, overlap = 45, 30, 16, 8
    written: list[tuple[int, np.ndarray]] = []
    nodata = np.zeros((h, w), bool)
    nodata[10, 3] = True
    acc = BlendingAccumulator(
        h,
        w,
        tile,
        overlap,
        lambda r0, rows, unc: written.append((r0, rows.copy())),
        lambda a, b: nodata[a:b],
        with_uncertainty=False,
    )
    assert acc.sum.shape == (tile * 8, w * 8)  # one tile row, whatever the raster height
    for t in plan_tiles(h, w, tile, overlap):
        acc.add(t, np.full((tile * 8, tile * 8), 5.0, np.float32))
    acc.finish()
    starts = [r0 for r0, _ in written]
    assert starts == sorted(starts) and starts[0] == 0
    out = np.concatenate([rows for _, rows in written])
    assert out.shape == (h * 8, w * 8)
    assert np.isnan(out[80:88, 24:32]).all() and np.isnan(out).sum() == 64
    np.testing.assert_allclose(out[np.isfinite(out)], 5.0, rtol=1e-6)
