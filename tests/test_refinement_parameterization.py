"""Unconstrained internal variables: scaling, bound transforms, round trips and gradients."""

import math

import pytest
import torch

from torch_sim.errors import InputError
from torch_sim.refinement import Parameterization, ParameterTransform, default_scale

TRANSFORMS = [
    ParameterTransform("cell_a", 70.0, 0.01),
    ParameterTransform("cell_a", 70.0, 0.01, 69.0, 72.0),
    ParameterTransform("mosaic_spread", 0.2, 0.002, 0.0),
    ParameterTransform("polarization", 0.9, 0.01, upper=1.0),
]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=["free", "two-sided", "lower", "upper"])
def test_transform_start_slope_round_trip_and_bounds(transform):
    u = torch.zeros((), dtype=torch.float64, requires_grad=True)
    value = transform.to_user(u)
    (slope,) = torch.autograd.grad(value, u)
    assert float(value.detach()) == pytest.approx(transform.start, rel=1e-15)
    assert float(slope) == pytest.approx(transform.scale, rel=1e-12)
    for target in (transform.start * 0.999, transform.start * 1.0004):
        if transform.lower < target < transform.upper:
            back = transform.to_user(torch.tensor(transform.to_internal(target), dtype=torch.float64))
            assert float(back) == pytest.approx(target, rel=1e-12)
    far = torch.tensor([-1e4, -50.0, 50.0, 1e4], dtype=torch.float64, requires_grad=True)
    values = torch.stack([transform.to_user(x) for x in far])
    values.sum().backward()
    assert torch.isfinite(far.grad).all()
    assert bool((values >= transform.lower).all() and (values <= transform.upper).all())


def test_parameterization_vector_and_gradient_check():
    parameterization = Parameterization(["cell_a", "mosaic_spread"], {"cell_a": 70.0, "mosaic_spread": 0.2},
                                        bounds={"mosaic_spread": (0.0, None)})
    u = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(parameterization.to_user, (u,))
    values = parameterization.to_user(u).detach()
    assert torch.allclose(parameterization.to_internal(values.tolist()), u.detach(), rtol=1e-12)
    assert parameterization.names == ["cell_a", "mosaic_spread"]


@pytest.mark.parametrize("name, start, inside", [
    ("mosaic_spread", 0.1, (0.0, math.inf)),  # -s gives another image, N -> -N the same one:
    ("N_b", 11.0, (0.0, math.inf)),           # a refinement must not cross 0
    ("cell_beta", 85.0, (0.0, 180.0)),
])
def test_physical_ranges_hold_without_user_bounds(name, start, inside):
    parameterization = Parameterization([name], {name: start})
    (transform,) = parameterization.transforms
    assert (transform.lower, transform.upper) == inside
    far = parameterization.to_user(torch.tensor([-1e3], dtype=torch.float64))
    assert inside[0] < float(far) < inside[1]


def test_default_scales_by_unit():
    assert default_scale("cell_b", 80.0) == 0.01
    assert default_scale("misset_z", 30.0) == 0.01
    assert default_scale("beam_x", 51.2) == 0.01
    assert default_scale("N_a", 10.0) == pytest.approx(0.1)
    assert default_scale("mosaic_spread", 0.5) == pytest.approx(0.005)
    assert default_scale("mosaic_spread", 0.0) > 0


@pytest.mark.parametrize("bounds, start, message", [
    ({"cell_a": (71.0, 72.0)}, 70.0, "exclude the start value 70"),
    ({"cell_a": (72.0, 71.0)}, 70.0, "min < max"),
    ({"cell_a": (70.0, None)}, 70.0, "exclude the start"),
    ({"cell_a": 5}, 70.0, "pair"),
    ({}, math.nan, "not finite"),
    ({"cell_a": (-5.0, -1.0)}, -3.0, "outside its physical range"),
    ({}, -70.0, "physical range of cell_a .* exclude the start value -70"),
])
def test_bad_bounds_and_starts_are_input_errors(bounds, start, message):
    with pytest.raises(InputError, match=message):
        Parameterization(["cell_a"], {"cell_a": start}, bounds=bounds)
