"""The C random-number generator, its deviates, mosaic domains and random misset, against the C.

Expected numbers marked "C harness" were printed by the RNG functions of
nanoBragg.c (ran1, gaussdev, poidev, gammln, mosaic_rotation_umat, umat2misset)
copied verbatim into a scratch program, compiled with gcc -O2 on x86-64 and
called with the seed and arguments given in each test; float results are
compared through their float32 bit patterns.
"""

import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from torch_sim.errors import InputError
from torch_sim.rng import (
    CRandom,
    Seed,
    f32,
    gammln,
    gaussdev,
    mosaic_domain_draws,
    mosaic_rotation_matrices,
    poidev,
    random_misset_rad,
    umat_to_misset_rad,
)

CASES = Path(__file__).resolve().parents[1] / "golden_data" / "nanobragg_c" / "cases"
RTD = 180.0 * (1.0 / math.pi)


def bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def floats_after(lines, title, first):
    """The 3x3 block of numbers printed after the ``first``-th (0-based) occurrence of ``title``."""
    starts = [i for i, line in enumerate(lines) if line.startswith(title)]
    rows = lines[starts[first] + 2 : starts[first] + 5]
    return np.array([[float(v) for v in row.split()[1:]] for row in rows])


# ---------------------------------------------------------------- ran1


def test_ran1_sequence_negative_seed():
    # C harness: ran1(&s) six times from s = -12345678 (the default -mosaic_seed).
    rng, seed = CRandom(), Seed(-12345678)
    got = [bits(rng.ran1(seed)) for _ in range(6)]
    assert got == [0x3F4417E0, 0x3CC021E6, 0x3F16F853, 0x3F08FC6B, 0x3F7B7385, 0x3F316981]
    assert seed.value == 1086690778


@pytest.mark.parametrize("first_seed", [777, 1, 0, -1])
def test_positive_first_seed_loads_table_with_one(first_seed):
    # C harness: s = 777 and s = -1 give the same four values and final idum.
    rng, seed = CRandom(), Seed(first_seed)
    got = [bits(rng.ran1(seed)) for _ in range(4)]
    assert got == [0x3ED4FDDE, 0x3DBC5817, 0x3F41A41E, 0x3F079A6F]
    assert seed.value == 1617819336


def test_positive_seed_continues_shared_table():
    # C harness: one ran1(&a) with a = -12345678, then three ran1(&b) with b = 12345.
    # The table is shared, so b's first outputs are a's table entries.
    rng, a, b = CRandom(), Seed(-12345678), Seed(12345)
    rng.ran1(a)
    got = [bits(rng.ran1(b)) for _ in range(3)]
    assert got == [0x3CC021E6, 0x3F16F853, 0x3F08FC6B]
    assert (a.value, b.value) == (1149121912, 2035175616)


def test_ran1_values_are_float32_in_open_interval():
    rng, seed = CRandom(), Seed(-3)
    values = [rng.ran1(seed) for _ in range(2000)]
    assert all(0.0 < v < 1.0 and f32(v) == v for v in values)


def test_f32_rounding():
    assert f32(0.1) == float(np.float32(0.1))
    assert f32(1.0 + 2.0**-24) == 1.0  # tie goes to even
    assert f32(1.0 + 3 * 2.0**-24) == 1.0 + 2.0**-22
    assert f32(1e39) == math.inf and f32(-1e39) == -math.inf


# ---------------------------------------------------------------- deviates


def test_gaussdev_sequence():
    # C harness: gaussdev(&s) five times from s = -5.
    rng, seed = CRandom(), Seed(-5)
    got = [bits(gaussdev(rng, seed)) for _ in range(5)]
    assert got == [0x3F057B62, 0xBF720B89, 0x3F2EE367, 0x3F9D177D, 0x3D9A6195]


@pytest.mark.parametrize(
    ("xm", "expected", "final_idum"),
    [
        # C harness: poidev(xm, &s) repeatedly from s = -7, one regime per row.
        (3.5, [3.0, 3.0, 5.0, 3.0, 3.0, 7.0], 1108624531),  # direct method
        (50.0, [54.0, 35.0, 48.0, 56.0], 738997130),  # rejection method
        (2e6, [1999729.125, 1998571.5, 1999318.5, 2003051.75], 587317117),  # Gaussian
    ],
)
def test_poidev_sequences(xm, expected, final_idum):
    rng, seed = CRandom(), Seed(-7)
    assert [poidev(rng, xm, seed) for _ in expected] == expected
    assert seed.value == final_idum


def test_poidev_negative_mean_is_zero_after_one_draw():
    rng, seed = CRandom(), Seed(-7)
    assert poidev(rng, -5.0, seed) == 0.0
    assert poidev(rng, -1e30, seed) == 0.0
    reference, ref_seed = CRandom(), Seed(-7)
    reference.ran1(ref_seed)
    reference.ran1(ref_seed)
    assert seed.value == ref_seed.value


def test_gammln():
    # C harness: gammln(13.0) and gammln(0.5).
    assert bits(gammln(13.0)) == 0x419FE5D1
    assert bits(gammln(0.5)) == 0x3F128682
    assert gammln(13.0) == pytest.approx(math.lgamma(13.0), rel=1e-7)


@pytest.mark.parametrize(
    "call",
    [
        lambda: poidev(CRandom(), math.nan, Seed(-1)),
        lambda: poidev(CRandom(), math.inf, Seed(-1)),
        lambda: gammln(0.0),
        lambda: Seed(2**31),
        lambda: Seed(1.5),
        lambda: mosaic_domain_draws(CRandom(), Seed(-1), -1),
        lambda: mosaic_rotation_matrices(torch.zeros(2), mosaic_domain_draws(CRandom(), Seed(-1), 2)),
        lambda: umat_to_misset_rad([1.0, 0.0]),
    ],
)
def test_bad_inputs_raise_input_error(call):
    with pytest.raises(InputError):
        call()


# ---------------------------------------------------------------- random misset


def test_random_misset_matches_c_harness():
    # C harness: mosaic_rotation_umat(90.0, u, &s) with s = 777, then umat2misset(u, m).
    expected = (0.081383955370810321, -0.20673388068880616, 0.30757148560872183)
    got = random_misset_rad(CRandom(), Seed(777))
    assert got == pytest.approx(expected, rel=1e-14, abs=1e-16)


def test_random_misset_golden_case():
    # -misset_seed -777 sets misset_seed = 777; positive on an empty table, so it is loaded with 1.
    line = next(
        line
        for line in (CASES / "misset_random" / "stdout.txt").read_text().splitlines()
        if line.startswith("random orientation misset angles:")
    )
    angles = random_misset_rad(CRandom(), Seed(777))
    got = "random orientation misset angles: %f %f %f deg" % tuple(a * RTD for a in angles)
    assert got == line


def test_umat_to_misset_round_trip():
    draws = mosaic_domain_draws(CRandom(), Seed(-11), 5)
    umats = mosaic_rotation_matrices(torch.tensor(0.4, dtype=torch.float64), draws, force_first_identity=False)
    for umat in umats.numpy():
        rx, ry, rz = umat_to_misset_rad(umat)
        cx, sx, cy, sy, cz, sz = math.cos(rx), math.sin(rx), math.cos(ry), math.sin(ry), math.cos(rz), math.sin(rz)
        rot_x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        rot_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        rot_z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        np.testing.assert_allclose(rot_z @ rot_y @ rot_x, umat, atol=1e-12)


# ---------------------------------------------------------------- mosaic domains


def test_mosaic_draws_consume_three_per_domain():
    rng, seed = CRandom(), Seed(-42)
    draws = mosaic_domain_draws(rng, seed, 4)
    reference, ref_seed = CRandom(), Seed(-42)
    for _ in range(12):
        reference.ran1(ref_seed)
    assert seed.value == ref_seed.value and rng.iv == reference.iv
    assert draws.axis.shape == (4, 3) and draws.cap.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(draws.axis, axis=1), 1.0, atol=1e-15)
    assert mosaic_domain_draws(CRandom(), Seed(-42), 0).axis.shape == (0, 3)


def test_mosaic_matrices_match_c_float32_semantics():
    # C harness: three mosaic_rotation_umat(0.8/RTD, u, &s) from s = -12345678; the second matrix.
    expected = [
        0.99991275827655046, -0.012759552697061877, 0.0034160870526796167,
        0.012762161640187734, 0.99991828424015405, -0.00074301581142851712,
        -0.0034063273551297292, 0.00078654764459185436, 0.99999388911970477,
    ]  # fmt: skip
    draws = mosaic_domain_draws(CRandom(), Seed(-12345678), 3)
    umats = mosaic_rotation_matrices(torch.tensor(0.8 / RTD, dtype=torch.float64), draws)
    np.testing.assert_allclose(umats[1].reshape(-1).numpy(), expected, rtol=0, atol=1e-15)
    unrounded = mosaic_rotation_matrices(torch.tensor(0.8 / RTD, dtype=torch.float64), draws, round_float32=False)
    assert not torch.equal(umats[1], unrounded[1])  # the float32 roundings are visible in double


def test_mosaic_12_golden_last_domain():
    # mosaic_12: -mosaic 0.8 -mosaic_domains 12, default mosaic_seed, fresh table; phi = 0, so the
    # trace's cell vectors are U_11 @ a0 with a0 the first printed real-space block.
    lines = (CASES / "mosaic_12" / "stdout.txt").read_text().splitlines()
    a0 = floats_after(lines, "real-space cell vectors", 0)
    traced = floats_after(lines, "real-space cell vectors", 1)
    draws = mosaic_domain_draws(CRandom(), Seed(-12345678), 12)
    umats = mosaic_rotation_matrices(torch.tensor(0.8 / RTD, dtype=torch.float64), draws)
    # a0 is printed to 8 decimals, so allow a few units in the last printed place.
    np.testing.assert_allclose(umats[11].numpy() @ a0, traced, rtol=0, atol=3e-8)


def test_mosaic_matrices_orthonormal_and_first_identity():
    draws = mosaic_domain_draws(CRandom(), Seed(-12345678), 12)
    umats = mosaic_rotation_matrices(torch.tensor(0.05, dtype=torch.float64), draws)
    assert torch.equal(umats[0], torch.eye(3, dtype=torch.float64))
    eye = torch.eye(3, dtype=torch.float64).expand(12, 3, 3)
    torch.testing.assert_close(umats @ umats.transpose(1, 2), eye, rtol=0, atol=1e-14)
    torch.testing.assert_close(torch.linalg.det(umats), torch.ones(12, dtype=torch.float64), rtol=0, atol=1e-14)
    free = mosaic_rotation_matrices(torch.tensor(0.05, dtype=torch.float64), draws, force_first_identity=False)
    assert not torch.equal(free[0], umats[0]) and torch.equal(free[1:], umats[1:])


def test_mosaic_gradcheck_unrounded():
    draws = mosaic_domain_draws(CRandom(), Seed(-5), 4)
    spread = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: mosaic_rotation_matrices(s, draws, round_float32=False), (spread,))


def test_mosaic_straight_through_gradient():
    draws = mosaic_domain_draws(CRandom(), Seed(-5), 4)
    grads = []
    for rounded in (True, False):
        spread = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        mosaic_rotation_matrices(spread, draws, round_float32=rounded).sum().backward()
        grads.append(spread.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-6, atol=0)
    assert grads[0] != 0


def test_mosaic_keeps_caller_dtype():
    draws = mosaic_domain_draws(CRandom(), Seed(-5), 3)
    spread = torch.tensor(0.01, dtype=torch.float32, requires_grad=True)
    umats = mosaic_rotation_matrices(spread, draws)
    assert umats.dtype == torch.float32 and umats.shape == (3, 3, 3)
    umats[1:].sum().backward()
    assert spread.grad is not None and torch.isfinite(spread.grad)
