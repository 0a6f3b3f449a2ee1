"""torch.autograd.gradcheck of the image with respect to every parameter, each in its own test.

Tiny images in float64, several configurations (conventions, pivots, crystal
shapes, interpolation, oversampling flags). Parameters are varied relatively,
p = p0 (1 + u), and images are scaled by their maximum (see gradient_cases.py):
analytic and finite-difference Jacobians agree to 1e-3 relative or 1e-6 of the
image maximum.
"""

import pytest
import torch

from gradient_cases import CONFIGURATIONS, INTERPOLATED, build, image_function, write_small_hkl


def _cases():
    for config_name, argv in CONFIGURATIONS.items():
        for name, value in build(argv).params.items():
            yield pytest.param(config_name, name, id=f"{config_name}-{name}")


@pytest.mark.parametrize("config_name,name", list(_cases()))
def test_gradcheck(config_name, name):
    model = build(CONFIGURATIONS[config_name])
    f, u = image_function(model, name)
    assert torch.autograd.gradcheck(f, (u,), eps=1e-6, atol=1e-6, rtol=1e-3)


@pytest.fixture(scope="module")
def interpolated_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interpolated")
    write_small_hkl(folder / "small.hkl")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        model = build(INTERPOLATED)
    assert model.config.crystal.interpolate
    return model


@pytest.mark.parametrize("name", ["cell_a", "cell_gamma", "misset_y", "distance", "beam_x", "N_a", "wavelength"])
def test_gradcheck_interpolated(interpolated_model, name):
    f, u = image_function(interpolated_model, name)
    assert torch.autograd.gradcheck(f, (u,), eps=1e-6, atol=1e-6, rtol=1e-3)


def test_gradcheck_structure_factor_table(interpolated_model):
    f, u = image_function(interpolated_model, "structure_factors")
    assert torch.autograd.gradcheck(f, (u,), eps=1e-6, atol=1e-8, rtol=1e-4, fast_mode=True)


@pytest.mark.parametrize("name", ["cell_a", "cell_beta", "misset_x", "distance"])
def test_gradgradcheck(name):
    model = build(CONFIGURATIONS["mosflm_square"])
    f, u = image_function(model, name)
    assert torch.autograd.gradgradcheck(f, (u,), eps=1e-6, atol=1e-5, rtol=1e-3)
