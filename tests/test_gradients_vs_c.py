"""Autograd gradients against the C program's own central differences.

golden_data/nanobragg_c/gradients holds images rendered by the C program at p-h
and p+h for 20 parameters around one base case (64x64 pixels, triclinic cell,
misset, mosaic, detector rotations, two-theta, phi, Kahn factor 0.9). The
derivative of our image (forward-mode AD, one pass per parameter) must agree
with (I(p+h) - I(p-h)) / 2h over the pixels where that difference is resolved
beyond float32 rounding: relative L2 error <= 2e-2 and correlation >= 0.999.
"""

import json

import numpy as np
import pytest
import torch
from torch.func import functional_call, jvp

import torch_sim
from golden import GOLDEN

GRADIENTS = GOLDEN / "gradients"
STEPS = json.loads((GRADIENTS / "steps.json").read_text())
#: nanoBragg flag -> torch_sim parameter name.
PARAMETER = {"lambda": "wavelength", "Xbeam": "beam_x", "Ybeam": "beam_y", "mosaic": "mosaic_spread",
             "phi": "phi_start", "polar": "polarization"}
#: A pixel counts when its C difference exceeds this many float32 roundings of the pixel value.
RESOLVED = 16 * 2.0**-24


@pytest.fixture(scope="module")
def model():
    return torch_sim.from_nanobragg_args((GRADIENTS / "command.txt").read_text().split())


def _c_image(name: str) -> np.ndarray:
    return np.fromfile(GRADIENTS / name, dtype="<f4").astype(np.float64)


def test_base_image_matches_c(model):
    with torch.no_grad():
        ours = model().numpy().ravel()
    reference = _c_image("center.bin")
    assert np.corrcoef(ours, reference)[0, 1] >= 0.99999
    assert np.abs(ours - reference).max() <= 1e-4 * reference.max()


@pytest.mark.parametrize("flag_name", sorted(STEPS))
def test_gradient_matches_c_central_difference(model, flag_name):
    name = PARAMETER.get(flag_name, flag_name)
    key = next(k for k, _ in model.named_parameters() if k.split(".")[-1] == name)
    value = dict(model.named_parameters())[key].detach()
    _, derivative = jvp(lambda v: functional_call(model, {key: v}), (value,), (torch.ones_like(value),))
    ours = derivative.detach().numpy().ravel()
    plus, minus = _c_image(f"{flag_name}_plus.bin"), _c_image(f"{flag_name}_minus.bin")
    step = STEPS[flag_name]["h"]
    central = (plus - minus) / (2 * step)
    resolved = np.abs(plus - minus) > RESOLVED * np.maximum(np.abs(plus), np.abs(minus))
    assert resolved.sum() >= 100
    relative_l2 = np.linalg.norm(ours[resolved] - central[resolved]) / np.linalg.norm(central[resolved])
    correlation = np.corrcoef(ours[resolved], central[resolved])[0, 1]
    assert relative_l2 <= 2e-2
    assert correlation >= 0.999
