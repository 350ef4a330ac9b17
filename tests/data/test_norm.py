"""The nominal DMSP-like response added to norm.py."""

from __future__ import annotations

import numpy as np
import torch

from deeplight.contracts import nominal_dn_to_radiance, radiance_to_nominal_dn


def test_nominal_response_values_and_inverse():
    radiance = np.array([0.0, 1.0, 10.0, 40.0])
    dn = radiance_to_nominal_dn(radiance)
    np.testing.assert_allclose(dn, 6.0 * radiance**0.6)
    np.testing.assert_allclose(nominal_dn_to_radiance(dn), radiance, rtol=1e-9)


def test_saturation_nan_and_torch():
    assert radiance_to_nominal_dn(np.array([1e4]))[0] == 63.0
    assert np.isnan(radiance_to_nominal_dn(np.array([np.nan]))[0])
    tensor = radiance_to_nominal_dn(torch.tensor([1.0, 1e4]))
    assert torch.allclose(tensor, torch.tensor([6.0, 63.0]))
    assert torch.allclose(nominal_dn_to_radiance(torch.tensor([6.0])), torch.tensor([1.0]))
