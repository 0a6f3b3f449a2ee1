"""Unit cell and crystal orientation against the C program's printed values.

For every golden case the crystal lattice at its initial parameters
(``Crystal.lattice()``) is printed in the C formats (``Unit Cell:``, ``Recp Cell:``,
``volume =``, the two ``%11.8f`` vector tables, ``crystal is ... microns``) and compared
as strings with the case's stdout.txt. Unit tests pin down the cell construction
(nanoBragg.c L1790-2050): analytic cubic/orthorhombic/triclinic vectors, the misset
rotation order, the MOSFLM matrix with its wavelength rescaling, the random misset,
and the input errors.
"""

import math
import re

import numpy as np
import pytest
import torch

from golden import CASES, GOLDEN, resolved_case, stage_inputs, stdout_lines
from torch_sim.config.resolve import resolve_arguments
from torch_sim.errors import InputError
from torch_sim.functional.cell import cell_parameters, check_cell
from torch_sim.functional.crystal_orientation import lattice_vectors
from torch_sim.functional.rotations import rotate_xyz
from torch_sim.modules.crystal import Crystal
from torch_sim.units import RTD

# ----------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def golden_crystal(tmp_path_factory):
    """(config, lattice) of a golden case, resolved once in a folder holding its inputs."""
    cache = {}

    def get(name):
        if name not in cache:
            config, _ = resolved_case(name, tmp_path_factory.mktemp(f"xtal_{name}"))
            with torch.no_grad():
                cache[name] = (config, Crystal(config.crystal).lattice())
        return cache[name]

    return get


def g(*values) -> str:
    return " ".join("%g" % float(v) for v in values)


def table(rows: torch.Tensor) -> list:
    """The C's X/Y/Z table of three vectors (rows of ``rows``), ``%11.8f``."""
    return ["%s: %11.8f %11.8f %11.8f" % (label, *(float(rows[k, axis]) for k in range(3)))
            for axis, label in enumerate("XYZ")]


def first_line(name: str, prefix: str) -> str:
    for line in stdout_lines(name):
        if line.startswith(prefix):
            return line
    raise KeyError(f"{prefix!r} not in {name}/stdout.txt")


def printed_table(name: str, title: str) -> list:
    """The three X/Y/Z lines after the first ``title`` line (the preamble's table)."""
    lines = stdout_lines(name)
    start = lines.index(title)
    return lines[start + 2:start + 5]


def _cell_line(config, lattice, which):
    params = [float(x) for x in cell_parameters(lattice)]
    for k in (3, 4, 5, 9, 10, 11):
        params[k] *= RTD
    return "Unit Cell: " + g(*params[:6]) if which == "real" else "Recp Cell: " + g(*params[6:])


def _crystal_size(config, lattice):
    lengths_m = [float(torch.linalg.norm(v)) * 1e-10 for v in (lattice.a, lattice.b, lattice.c)]
    return "crystal is %g x %g x %g microns" % tuple(l * n * 1e6 for l, n in zip(lengths_m, config.crystal.N_cells))


COMPONENTS = {
    "unit_cell": ("Unit Cell:", lambda c, lat: _cell_line(c, lat, "real")),
    "recp_cell": ("Recp Cell:", lambda c, lat: _cell_line(c, lat, "reciprocal")),
    "volume": ("volume =", lambda c, lat: "volume = %g A^3" % float(lat.volume_A3)),
    "crystal_size": ("crystal is", _crystal_size),
}


# ----------------------------------------------------------------------------- golden cases

@pytest.mark.parametrize("component", ["unit_cell", "recp_cell", "volume", "crystal_size"])
@pytest.mark.parametrize("name", list(CASES))
def test_cell_line_matches_c(golden_crystal, name, component):
    config, lattice = golden_crystal(name)
    prefix, ours = COMPONENTS[component]
    assert ours(config, lattice) == first_line(name, prefix)


@pytest.mark.parametrize("name", list(CASES))
def test_real_space_vectors_match_c(golden_crystal, name):
    _, lattice = golden_crystal(name)
    assert table(lattice.real_matrix) == printed_table(name, "real-space cell vectors (Angstrom):")


@pytest.mark.parametrize("name", list(CASES))
def test_reciprocal_vectors_match_c(golden_crystal, name):
    _, lattice = golden_crystal(name)
    assert table(lattice.reciprocal_matrix) == printed_table(name, "reciprocal-space cell vectors (Angstrom^-1):")


@pytest.mark.parametrize("name", list(CASES))
def test_cell_counts_match_c(golden_crystal, name):
    config, _ = golden_crystal(name)
    line = next(l for l in stdout_lines(name) if re.match(r"^  \S+ xtal: \d+x\d+x\d+ cells$", l))
    assert line.split("xtal: ")[1] == "%.0fx%.0fx%.0f cells" % config.crystal.N_cells


def test_random_misset_angles_match_c(golden_crystal):
    config, _ = golden_crystal("misset_random")
    assert config.random_misset_deg is not None
    assert "random orientation misset angles: %f %f %f deg" % config.random_misset_deg == first_line(
        "misset_random", "random orientation misset angles:")
    assert tuple(config.crystal.misset_deg) == tuple(config.random_misset_deg)


def test_fixed_misset_has_no_random_angles(golden_crystal):
    config, _ = golden_crystal("triclinic_misset_hkl")
    assert config.random_misset_deg is None
    assert tuple(config.crystal.misset_deg) == (10.0, 20.0, 30.0)


# ----------------------------------------------------------------------------- analytic cells

def t(x):
    return torch.tensor(float(x), dtype=torch.float64)


def lattice_of(a, b, c, alpha, beta, gamma, misset=(0, 0, 0), orientation=None, user_cell=True):
    return lattice_vectors(t(a), t(b), t(c), t(math.radians(alpha)), t(math.radians(beta)), t(math.radians(gamma)),
                           [t(math.radians(x)) for x in misset], orientation=orientation, user_cell=user_cell)


@pytest.mark.parametrize("cell", [(100, 100, 100), (50, 60, 70), (79.1, 79.1, 38.2)])
def test_orthogonal_cell_vectors_are_axis_aligned(cell):
    a, b, c = cell
    lattice = lattice_of(a, b, c, 90, 90, 90)
    np.testing.assert_allclose(lattice.real_matrix.numpy(), np.diag([a, b, c]), atol=1e-12)
    np.testing.assert_allclose(lattice.reciprocal_matrix.numpy(), np.diag([1 / a, 1 / b, 1 / c]), atol=1e-16)
    assert float(lattice.volume_A3) == pytest.approx(a * b * c, rel=1e-14)


def test_default_frame_puts_a_star_on_x_and_b_star_in_xy():
    lattice = lattice_of(70, 80, 90, 75, 85, 95)
    a_star, b_star = lattice.a_star.numpy(), lattice.b_star.numpy()
    assert abs(a_star[1]) < 1e-18 and abs(a_star[2]) < 1e-18 and a_star[0] > 0
    assert abs(b_star[2]) < 1e-18


@pytest.mark.parametrize("beta", [90, 95, 110.5, 60])
def test_monoclinic_cell_metric_and_reciprocity(beta):
    """For alpha = gamma = 90 the C default frame is exact: lengths, angles, volume and a_i . a*_j = delta_ij."""
    a, b, c = 70, 80, 90
    lattice = lattice_of(a, b, c, 90, beta, 90, misset=(10, 20, 30))
    real, reciprocal = lattice.real_matrix.numpy(), lattice.reciprocal_matrix.numpy()
    np.testing.assert_allclose(np.linalg.norm(real, axis=1), [a, b, c], rtol=1e-13)
    angle = lambda u, v: math.degrees(math.acos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
    assert angle(real[1], real[2]) == pytest.approx(90, abs=1e-10)
    assert angle(real[0], real[2]) == pytest.approx(beta, abs=1e-10)
    assert angle(real[0], real[1]) == pytest.approx(90, abs=1e-10)
    np.testing.assert_allclose(real @ reciprocal.T, np.eye(3), atol=1e-13)
    volume = a * b * c * math.sin(math.radians(beta))
    assert float(lattice.volume_A3) == pytest.approx(volume, rel=1e-13)
    assert abs(np.linalg.det(real)) == pytest.approx(volume, rel=1e-12)
    params = [float(x) for x in cell_parameters(lattice)]
    assert params[:3] == pytest.approx([a, b, c], rel=1e-13)
    assert [x * RTD for x in params[3:6]] == pytest.approx([90, beta, 90], abs=1e-10)
    assert params[6:9] == pytest.approx(list(np.linalg.norm(reciprocal, axis=1)), rel=1e-13)


def test_triclinic_user_cell_forces_lengths_like_the_c():
    """-cell forces |a|, |b|, |c| (C L1935-1945); the C's triclinic default frame then prints
    slightly different angles (golden: 'Unit Cell: 70 80 90 75.0391 85.0136 95.0081')."""
    lattice = lattice_of(70, 80, 90, 75, 85, 95, misset=(10, 20, 30))
    params = [float(x) for x in cell_parameters(lattice)]
    assert params[:3] == pytest.approx([70, 80, 90], rel=1e-13)
    assert "%g %g %g" % tuple(x * RTD for x in params[3:6]) == "75.0391 85.0136 95.0081"
    assert float(lattice.volume_A3) == pytest.approx(481811.4557, rel=1e-9)


def test_matrix_lattice_is_reciprocal():
    """Without the -cell rescale (a matrix file alone) real and reciprocal vectors are exact duals."""
    lattice = lattice_of(70, 80, 90, 75, 85, 95, misset=(10, 20, 30), user_cell=False)
    real, reciprocal = lattice.real_matrix.numpy(), lattice.reciprocal_matrix.numpy()
    np.testing.assert_allclose(real @ reciprocal.T, np.eye(3), atol=1e-13)
    assert float(lattice.volume_A3) == pytest.approx(abs(np.linalg.det(real)), rel=1e-12)


def _rx(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_misset_rotates_about_x_then_y_then_z():
    """C ``rotate(v, phix, phiy, phiz)``: new = Rz Ry Rx v, applied to the reciprocal vectors."""
    plain = lattice_of(70, 80, 90, 75, 85, 95)
    turned = lattice_of(70, 80, 90, 75, 85, 95, misset=(10, 20, 30))
    rotation = _rz(30) @ _ry(20) @ _rx(10)
    np.testing.assert_allclose(turned.reciprocal_matrix.numpy(), plain.reciprocal_matrix.numpy() @ rotation.T,
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(turned.real_matrix.numpy(), plain.real_matrix.numpy() @ rotation.T, rtol=0, atol=1e-11)
    wrong_order = _rx(10) @ _ry(20) @ _rz(30)
    assert not np.allclose(turned.real_matrix.numpy(), plain.real_matrix.numpy() @ wrong_order.T, atol=1e-3)


def test_rotate_xyz_single_axes_are_right_handed():
    x, y, z = (torch.tensor(v, dtype=torch.float64) for v in ((1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0)))
    quarter = math.pi / 2
    np.testing.assert_allclose(rotate_xyz(y, quarter, 0, 0).numpy(), [0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(rotate_xyz(z, 0, quarter, 0).numpy(), [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(rotate_xyz(x, 0, 0, quarter).numpy(), [0, 1, 0], atol=1e-15)


def test_cell_is_differentiable():
    a = t(70).requires_grad_(True)
    alpha = t(math.radians(75)).requires_grad_(True)
    lattice = lattice_vectors(a, t(80), t(90), alpha, t(math.radians(85)), t(math.radians(95)),
                              [t(0.1), t(0.2), t(0.3)])
    (lattice.volume_A3 + lattice.a.sum()).backward()
    assert torch.isfinite(a.grad) and float(a.grad) != 0.0
    assert torch.isfinite(alpha.grad) and float(alpha.grad) != 0.0


# ----------------------------------------------------------------------------- MOSFLM matrix

def _matrix_case(tmp_path, monkeypatch, *extra, lam="1.2"):
    stage_inputs("matrix_file", tmp_path)
    monkeypatch.chdir(tmp_path)
    config, _ = resolve_arguments(["-mat", "A.mat", "-default_F", "10", "-lambda", lam, "-detpixels", "16", *extra])
    with torch.no_grad():
        return config, Crystal(config.crystal).lattice()


def _file_matrix():
    return np.loadtxt(GOLDEN / "inputs" / "A.mat", max_rows=3)


def test_mosflm_matrix_columns_are_reciprocal_vectors_over_lambda(tmp_path, monkeypatch):
    """a*, b*, c* are the file's columns times 1e-10/lambda0 (the matrix is wavelength-scaled)."""
    config, lattice = _matrix_case(tmp_path, monkeypatch)
    expected = _file_matrix().T / 1.2  # rows a*, b*, c*
    np.testing.assert_allclose(lattice.reciprocal_matrix.numpy(), expected, rtol=1e-12)
    assert config.crystal.user_cell is False
    # the cell constants the C prints for it
    assert config.crystal.cell_A_deg == pytest.approx((64, 72, 81, 88, 95, 101), rel=1e-6)


def test_mosflm_matrix_rescales_with_wavelength(tmp_path, monkeypatch):
    _, at_12 = _matrix_case(tmp_path, monkeypatch, lam="1.2")
    _, at_10 = _matrix_case(tmp_path, monkeypatch, lam="1.0")
    np.testing.assert_allclose(at_10.reciprocal_matrix.numpy(), at_12.reciprocal_matrix.numpy() * 1.2, rtol=1e-12)
    np.testing.assert_allclose(at_10.real_matrix.numpy(), at_12.real_matrix.numpy() / 1.2, rtol=1e-12)
    params = [float(x) for x in cell_parameters(at_10)]
    assert params[:3] == pytest.approx([64 / 1.2, 72 / 1.2, 81 / 1.2], rel=1e-6)
    assert [x * RTD for x in params[3:6]] == pytest.approx([88, 95, 101], abs=1e-4)


def test_mosflm_matrix_with_misset_rotates_the_file_vectors(tmp_path, monkeypatch):
    _, lattice = _matrix_case(tmp_path, monkeypatch, "-misset", "5", "0", "0")
    expected = (_file_matrix().T / 1.2) @ _rx(5).T
    np.testing.assert_allclose(lattice.reciprocal_matrix.numpy(), expected, rtol=1e-11, atol=1e-17)


def test_mat_with_user_cell_keeps_matrix_directions_and_user_lengths(tmp_path, monkeypatch):
    _, lattice = _matrix_case(tmp_path, monkeypatch, "-cell", "50", "60", "70", "90", "90", "90")
    star = _file_matrix().T / 1.2
    unit = lambda v: v / np.linalg.norm(v)
    expected_real = np.stack([50 * unit(np.cross(star[1], star[2])), 60 * unit(np.cross(star[2], star[0])),
                              70 * unit(np.cross(star[0], star[1]))])
    # first row of the C's printed real-space table for this command line (/tmp/nb/nanoBragg)
    assert table(lattice.real_matrix)[0] == "X: 45.17962929 -34.44713284 -14.88049768"
    np.testing.assert_allclose(lattice.real_matrix.numpy(), expected_real, rtol=1e-10)


def test_missing_matrix_file_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="no_such.mat"):
        resolve_arguments(["-mat", "no_such.mat", "-default_F", "10"])


@pytest.mark.parametrize("text", ["0.01 0.02 0.03\n0.04 0.05\n", "0.01 0.02 0.03\nabc 0.05 0.06\n0.07 0.08 0.09\n", ""])
def test_malformed_matrix_file_names_the_file(tmp_path, monkeypatch, text):
    (tmp_path / "bad.mat").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="bad.mat"):
        resolve_arguments(["-mat", "bad.mat", "-default_F", "10"])


def test_singular_matrix_file_raises(tmp_path, monkeypatch):
    (tmp_path / "flat.mat").write_text("0.01 0.02 0.03\n0.01 0.02 0.03\n0 0 0\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="flat.mat"):
        resolve_arguments(["-mat", "flat.mat", "-default_F", "10"])


# ----------------------------------------------------------------------------- random misset

def _random_misset(seed):
    config, _ = resolve_arguments(["-cell", "70", "80", "90", "75", "85", "95", "-default_F", "10",
                                   "-misset_seed", str(seed), "-misset", "random", "-detpixels", "16"])
    return config


def test_random_misset_is_reproducible_from_its_seed():
    """-misset_seed S stores -atoi(S): a positive S seeds the generator (C and port agree:
    777 -> 2.946208 1.690512 5.060313, 778 -> 5.798782 3.018549 -10.638060)."""
    first, again, other = _random_misset(777), _random_misset(777), _random_misset(778)
    assert first.random_misset_deg == again.random_misset_deg
    assert "%f %f %f" % first.random_misset_deg == "2.946208 1.690512 5.060313"
    assert "%f %f %f" % other.random_misset_deg == "5.798782 3.018549 -10.638060"


def test_random_misset_with_negative_seed_argument_matches_golden():
    """-misset_seed -777 stores +777, which does not re-seed ran1 (a non-negative idum is a running
    state), so -777 and -778 give the same angles in the C too; the golden case uses -777."""
    first, other = _random_misset(-777), _random_misset(-778)
    assert "%f %f %f" % first.random_misset_deg == "4.662957 -11.844979 17.622548"
    assert first.random_misset_deg == other.random_misset_deg


def test_random_misset_equals_the_same_fixed_misset():
    """The C turns the random rotation into misset angles (umat2misset) and applies them as a fixed misset."""
    config = _random_misset(-777)
    fixed, _ = resolve_arguments(["-cell", "70", "80", "90", "75", "85", "95", "-default_F", "10",
                                  "-misset", *("%.17g" % x for x in config.random_misset_deg), "-detpixels", "16"])
    with torch.no_grad():
        random_lattice = Crystal(config.crystal).lattice()
        fixed_lattice = Crystal(fixed.crystal).lattice()
    np.testing.assert_allclose(random_lattice.real_matrix.numpy(), fixed_lattice.real_matrix.numpy(), rtol=1e-13)


def test_random_misset_rotation_is_orthonormal():
    """A random misset is a rotation: the cell constants stay those of the unrotated cell."""
    config = _random_misset(12345)
    with torch.no_grad():
        lattice = Crystal(config.crystal).lattice()
        plain = lattice_of(70, 80, 90, 75, 85, 95)
    params = [float(x) for x in cell_parameters(lattice)]
    assert params == pytest.approx([float(x) for x in cell_parameters(plain)], rel=1e-12)


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("cell", [
    ["70", "80", "90", "170", "170", "170"],  # angles sum to more than 360 degrees
    ["70", "80", "90", "150", "150", "100"],
    ["70", "80", "90", "120", "30", "30"],  # alpha = beta + gamma: flat cell
    ["70", "80", "90", "130", "30", "30"],  # alpha > beta + gamma
    ["70", "80", "90", "180", "90", "90"],
])
def test_impossible_cell_angles_raise(cell):
    with pytest.raises(InputError, match="cell"):
        resolve_arguments(["-cell", *cell, "-default_F", "10"])


def test_zero_cell_length_raises():
    with pytest.raises(InputError, match="cell"):
        resolve_arguments(["-cell", "0", "80", "90", "90", "90", "90", "-default_F", "10"])


@pytest.mark.parametrize("args", [
    (0, 80, 90, 90, 90, 90), (70, -1, 90, 90, 90, 90), (70, 80, 0, 90, 90, 90),
    (70, 80, 90, 0, 90, 90), (70, 80, 90, 200, 90, 90), (70, 80, 90, 170, 170, 170),
    (70, 80, float("nan"), 90, 90, 90), (70, 80, 90, 90, 90, float("inf")),
])
def test_check_cell_rejects(args):
    with pytest.raises(InputError):
        check_cell(*args)


def test_check_cell_accepts_a_valid_triclinic_cell():
    check_cell(70, 80, 90, 75, 85, 95)


def test_missing_cell_raises():
    with pytest.raises(InputError, match="cell"):
        resolve_arguments(["-default_F", "10"])
