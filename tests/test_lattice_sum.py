"""The hot-loop Function LatticeSum: its analytic backward, forward-mode and second derivatives.

Checked with torch.autograd.gradcheck (backward and forward mode) and
gradgradcheck on small random inputs, for every crystal shape, with a constant
F and with a structure-factor table; and the compiled kernels against the eager ones.
"""

import pytest
import torch

from torch_sim.config.enums import CrystalShape
from torch_sim.functional.lattice_sum import LatticeSumSpec, lattice_sum
from torch_sim.functional.structure_factors import table_with_default_border

DTYPE = torch.float64


def _inputs(seed: int = 0, n_vectors: int = 6, n_rotations: int = 3):
    generator = torch.Generator().manual_seed(seed)
    random = lambda *shape: torch.rand(*shape, generator=generator, dtype=DTYPE)
    S = (random(3, n_vectors) - 0.5) * 0.2  # 1/A, axis first
    A = torch.diag(torch.tensor([40.0, 50.0, 60.0], dtype=DTYPE)) + (random(n_rotations, 3, 3) - 0.5) * 8.0
    N = torch.tensor([3.0, 4.5, 5.0], dtype=DTYPE)
    reciprocal = torch.linalg.inv(A[0]).T.contiguous()
    table = 20.0 + 100.0 * random(9, 9, 9)
    hkl_min = torch.tensor([-4.0, -4.0, -4.0], dtype=DTYPE)
    default_F = torch.tensor(37.0, dtype=DTYPE)
    return S, A, N, reciprocal, table, hkl_min, default_F


CASES = [pytest.param(shape, use_table, id=f"{shape.value}-{'table' if use_table else 'constant'}")
         for shape in (CrystalShape.SQUARE, CrystalShape.ROUND, CrystalShape.GAUSS) for use_table in (False, True)]


def _function(spec, hkl_min):
    def f(S, A, N, reciprocal, table, default_F):
        bordered = table_with_default_border(table, default_F) if spec.use_table else None
        return lattice_sum(S, A, N, reciprocal, bordered, hkl_min if spec.use_table else None, default_F, spec)
    return f


@pytest.mark.parametrize("shape,use_table", CASES)
def test_backward_and_forward_mode_match_finite_differences(shape, use_table):
    S, A, N, reciprocal, table, hkl_min, default_F = _inputs()
    spec = LatticeSumSpec(shape, 1.3, use_table)
    inputs = [x.clone().requires_grad_() for x in (S, A, N, reciprocal, table, default_F)]
    assert torch.autograd.gradcheck(_function(spec, hkl_min), inputs, check_forward_ad=True, fast_mode=True)


@pytest.mark.parametrize("shape,use_table", CASES)
def test_second_derivatives(shape, use_table):
    S, A, N, reciprocal, table, hkl_min, default_F = _inputs(seed=1, n_vectors=3, n_rotations=2)
    spec = LatticeSumSpec(shape, 1.0, use_table)
    inputs = [x.clone().requires_grad_() for x in (S, A, N, reciprocal, default_F)]

    def f(S, A, N, reciprocal, default_F):
        return _function(spec, hkl_min)(S, A, N, reciprocal, table, default_F)

    assert torch.autograd.gradgradcheck(f, inputs, fast_mode=True)


@pytest.mark.parametrize("use_table", [False, True], ids=["constant", "table"])
def test_backward_for_one_input_matches_the_full_backward(use_table):
    """The backward leaves out what no input needs; the gradient it does give is unchanged."""
    values = _inputs()
    spec = LatticeSumSpec(CrystalShape.GAUSS, 1.0, use_table)
    differentiable = [values[i] for i in (0, 1, 2, 3, 4, 6)]
    full = [x.clone().requires_grad_() for x in differentiable]
    _function(spec, values[5])(*full).sum().backward()
    for i in range(len(differentiable)):
        single = [x.clone().requires_grad_(j == i) for j, x in enumerate(differentiable)]
        output = _function(spec, values[5])(*single)
        if full[i].grad is None:  # the table, unused with a constant F
            assert not output.requires_grad
            continue
        output.sum().backward()
        assert torch.allclose(single[i].grad, full[i].grad, rtol=1e-12, atol=0)


def test_tophat_gradient_is_the_cell_count_only():
    """Top-hat spots are a step function of h: no gradient with respect to S or A, only through N^3."""
    S, A, N, reciprocal, _, _, default_F = _inputs()
    spec = LatticeSumSpec(CrystalShape.TOPHAT, 1.0, False)
    S.requires_grad_(), A.requires_grad_(), N.requires_grad_()
    lattice_sum(S, A, N, reciprocal, None, None, default_F, spec).sum().backward()
    assert torch.count_nonzero(S.grad) == 0 and torch.count_nonzero(A.grad) == 0
    assert torch.all(N.grad >= 0)


def test_exact_bragg_position_has_finite_derivatives():
    S, A, N, reciprocal, _, _, default_F = _inputs()
    S = torch.zeros_like(S).requires_grad_()
    N = N.clone().requires_grad_()
    spec = LatticeSumSpec(CrystalShape.SQUARE, 1.0, False)
    values = lattice_sum(S, A, N, reciprocal, None, None, default_F, spec)
    assert torch.allclose(values, (default_F * N.prod()) ** 2 * A.shape[0])
    values.sum().backward()
    assert torch.isfinite(S.grad).all() and torch.isfinite(N.grad).all()


@pytest.fixture
def compiler_caches_cleared_after():
    """Each kernel variant compiled here is one of torch's limited recompilations of the function: drop them
    so later tests compile their own."""
    yield
    torch.compiler.reset()


@pytest.mark.slow
@pytest.mark.parametrize("shape,use_table", CASES + [pytest.param(CrystalShape.TOPHAT, True, id="tophat-table")])
def test_compiled_kernels_match_eager(shape, use_table, compiler_caches_cleared_after):
    S, A, N, reciprocal, table, hkl_min, default_F = _inputs(n_vectors=64)
    # spots wide enough that top-hat evaluations fall inside and outside
    N = N if shape != CrystalShape.TOPHAT else torch.tensor([1.0, 1.5, 2.0], dtype=DTYPE)
    results = []
    for compiled in (False, True):
        f = _function(LatticeSumSpec(shape, 1.3, use_table, compiled=compiled), hkl_min)
        leaves = [x.clone().requires_grad_() for x in (S, A, N, reciprocal, table, default_F)]
        values = f(*leaves)
        (values * torch.linspace(0.5, 1.5, values.numel(), dtype=DTYPE)).sum().backward()
        results.append([values.detach()] + [x.grad for x in leaves])
    for name, eager, compiled in zip(("T", "S", "A", "N", "reciprocal", "table", "default_F"), *results):
        if eager is None:
            assert compiled is None, name
            continue
        may_vanish = (name == "reciprocal" and shape != CrystalShape.GAUSS or name == "default_F" and use_table
                      or name in ("S", "A") and shape == CrystalShape.TOPHAT)
        assert eager.abs().max() > 0 or may_vanish, name
        assert torch.allclose(eager, compiled, rtol=1e-10, atol=1e-12 * float(eager.abs().max())), name
