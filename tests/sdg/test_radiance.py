"""DN products as radiance for the indicators (deeplight.sdg.radiance)."""

import numpy as np
import pytest

from deeplight.io.georaster import read_georaster
from deeplight.sdg.radiance import dn_to_radiance, is_dn_product
from tests.sdg.helpers import write_raster


def test_dn_detection_and_conversion(tmp_path):
    dn = np.array([[0.0, 6.0], [30.0, 63.0]])
    untagged = read_georaster(write_raster(tmp_path / "lr.tif", dn))
    assert is_dn_product(untagged, product="lr")
    assert not is_dn_product(untagged, product="hr")
    assert not is_dn_product(untagged, "nW/cm2/sr", product="lr")
    radiance, how = dn_to_radiance(dn)
    assert radiance[0, 1] == pytest.approx(1.0)  # DN 6 <-> 1 nW/cm2/sr (nominal response)
    assert radiance[1, 1] == pytest.approx((63 / 6) ** (1 / 0.6))
    assert "nominal calibration" in how
