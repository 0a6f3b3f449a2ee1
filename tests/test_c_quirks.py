"""C behaviours outside the golden cases, pinned by the C program's own output.

Each expected line or number below was printed by nanoBragg.c (github
bl831/nanoBragg 455534a, run single-threaded) for the same command line; they
came out of a randomized comparison of the two programs. The command line
reproduces them through torch_sim's CLI.
"""

import numpy as np
import pytest

from golden import GOLDEN
from torch_sim.cli.main import main
from torch_sim.cli.simulate import run
from torch_sim.config.resolve import resolve_arguments
from torch_sim.errors import InputError

OUTPUTS = ["-floatfile", "f.bin", "-intfile", "i.img", "-nonoise", "-nopgm"]


def _stdout(argv, folder, monkeypatch) -> list:
    for name in ("sparse.hkl", "P1.hkl"):
        (folder / name).write_bytes((GOLDEN / "inputs" / name).read_bytes())
    monkeypatch.chdir(folder)
    lines = []
    assert run(argv + OUTPUTS, out=lines.append) == 0
    return lines


def test_oddball_reciprocal_angles_warning(tmp_path, monkeypatch):
    lines = _stdout("-cell 33.15 101.82 65.82 72.74 112.53 100.11 -default_F 10 -N 3 -detpixels 64 -noprogress".split(),
                    tmp_path, monkeypatch)
    start = lines.index("WARNING: oddball reciprocal cell angles:")
    assert lines[start:start + 8] == [
        "WARNING: oddball reciprocal cell angles:",
        "sin(alpha_star) = 0.9699776962199330165859124",
        "cos(alpha_star) = -0.254988814506681427118906",
        "sin(beta_star)  = 0.937462566435144140086777",
        "cos(beta_star)  = 0.3558828730615887225852134",
        "sin(gamma_star) = 1.000668406788200348600526",
        "cos(gamma_star) = 0.07011769708382178944994223",
        "Unit Cell: 33.15 101.82 65.82 72.5248 112.799 100.254",
    ]


def test_rotation_by_zero_keeps_negative_zeros(tmp_path, monkeypatch):
    lines = _stdout("-cell 50 60 70 90 90 90 -misset 120 0 0 -default_F 10 -N 2 -detpixels 32 -noprogress".split(),
                    tmp_path, monkeypatch)
    start = lines.index("real-space cell vectors (Angstrom):")
    assert lines[start + 2:start + 5] == [
        "X: 50.00000000 -0.00000000  0.00000000",
        "Y: -0.00000000 -30.00000000 -60.62177826",
        "Z:  0.00000000 51.96152423 -35.00000000",
    ]


def test_progress_meter_lines(tmp_path, monkeypatch):
    lines = _stdout("-cell 70 80 90 75 85 95 -default_F 50 -N 4 -detpixels 16".split(), tmp_path, monkeypatch)
    expected = ("0 0 1 2 2 3 4 4 5 6 6 7 8 8 9 14 19 24 29 33 38 43 48 53 58 62 67 72 77 82 87").split()
    assert [line for line in lines if line.endswith("% done")] == [f"{n}% done" for n in expected]


def test_crystal_size_ceil_uses_the_scaled_vector_length():
    config, _ = resolve_arguments(
        "-cell 50 60 70 90 90 90 -misset 10 20 30 -xtalsize 0.000024 -default_F 10 -detpixels 64".split())
    assert config.crystal.N_cells == (5.0, 4.0, 4.0)  # C: "parallelpiped xtal: 5x4x4 cells"


def test_round_crystal_at_the_direct_beam_cancels_like_the_c(tmp_path, monkeypatch):
    """sinc3 of x ~ 1e-16 is 0 in the C's arithmetic, not its limit 1: the direct-beam pixel stays dark."""
    lines = _stdout(("-cell 70 80 90 75 85 95 -misset 10 20 30 -default_F 50 -detpixels 65 -N 3 -round_xtal "
                     "-oversample 1 -noprogress").split(), tmp_path, monkeypatch)
    assert "max_I = 0.950854  at 0.00455 0.00245" in lines
    image = np.fromfile(tmp_path / "f.bin", dtype="<f4").reshape(65, 65)
    assert image[32, 32] == pytest.approx(0.7962836, rel=1e-6)


def test_trace_of_a_pixel_before_the_interpolation_fallback(tmp_path, monkeypatch):
    lines = _stdout(("-cell 70 80 90 75 85 95 -misset 10 20 30 -hkl P1.hkl -N 2 -lambda 1 -distance 40 -detpixels 128 "
                     "-pixel 0.2 -Xbeam 1 -Ybeam 1 -printout_pixel 1 0 -noprogress").split(), tmp_path, monkeypatch)
    start = next(k for k, line in enumerate(lines) if line.startswith("   1    0 : stol"))
    assert lines[start:start + 9] == [
        "   1    0 : stol = 1.48322e+08 or 0.0148322",
        "at 0.04 0.000933333 -0.000733333",
        "hkl= 0.925538 1.029796 -1.503412  hkl0= 1 1 -2",
        " F_cell=201.484  F_latt=0.083045   I = 2.60736e+06",
        "I/steps     289706.9927",
        "polar      0.9994104183",
        "omega   2.495579441e-05",
        "capfrac               1",
        "pixel       7.225605488",
    ]
    assert lines[start + 14].startswith("WARNING: out of range for three point interpolation")


def test_interpolation_on_a_table_thinner_than_the_stencil(tmp_path, monkeypatch):
    lines = _stdout("-cell 70 80 90 75 85 95 -misset 10 20 30 -hkl sparse.hkl -N 2 -detpixels 64 -distance 50 "
                    "-noprogress".split(), tmp_path, monkeypatch)
    assert any(line.startswith("WARNING: out of range for three point interpolation") for line in lines)


def test_smv_header_longer_than_512_bytes_is_written_like_the_c(tmp_path, monkeypatch, capsys):
    _stdout(("-cell 70 80 90 90 90 90 -default_F 10 -N 2 -detpixels 64 -pixel 0.172 -distance 123.456 "
             "-lambda 1.23456 -twotheta 12.345 -phi -12.3456 -osc 1.23456 -noprogress").split(), tmp_path, monkeypatch)
    data = (tmp_path / "i.img").read_bytes()
    assert data.index(b"}\f") + 2 == 517 and len(data) == 517 + 64 * 64 * 2  # the C: 517-byte header, no padding
    assert data.startswith(b"{\nHEADER_BYTES=512;\n")
    assert "longer than the 512 bytes it declares" in capsys.readouterr().err


def test_trailing_curved_det_is_ignored():
    config, _ = resolve_arguments("-cell 70 80 90 90 90 90 -default_F 10 -detpixels 16 -curved_det".split())
    assert not config.detector.curved
    config, _ = resolve_arguments("-cell 70 80 90 90 90 90 -default_F 10 -curved_det -detpixels 16".split())
    assert config.detector.curved


def test_divergence_cut_leaving_no_source_is_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ("-cell 70 80 90 75 85 95 -default_F 10 -N 2 -detpixels 32 -hdivrange 0.38 -hdivstep 0.381 "
            "-vdivrange 1.88 -vdivstep 1.88").split()
    with pytest.raises(InputError, match="no source"):
        resolve_arguments(argv)
    assert main(argv) == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_trace_prints_the_c_stale_structure_factor(tmp_path, monkeypatch):
    """Top-hat spots skip most evaluations (F_latt = 0) before F_cell: the C prints the last one computed."""
    lines = _stdout(("-N 7 -dmin 11.42 -pixel 0.15 -adxv -phi -2 -osc 4 -phisteps 4 -tophat_spots -detpixels 102 "
                     "-cell 55.97 73.06 61.22 100.27 69.45 112.08 -noprogress -lambda 1.131 -distance 69.3 -hkl P1.hkl "
                     "-misset 151.78 -54.19 64.64 -point_pixel -printout_pixel 19 39").split(), tmp_path, monkeypatch)
    assert " F_cell=319.234  F_latt=0   I = 0" in lines
