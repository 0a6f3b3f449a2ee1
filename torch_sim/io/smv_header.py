"""The SMV header fields nanoBragg.c writes into its int and noise images.

Every value is formatted with C ``%g`` from the same expression, in the same
order of operations, as the C program's ``fprintf`` calls, so the header text
matches the C output byte for byte.
"""

from typing import Sequence

from torch_sim.io.smv import SmvField
from torch_sim.units import RTD


def _g(value: float) -> str:
    return "%g" % value


def nanobragg_smv_header_fields(
    *,
    fpixels: int,
    spixels: int,
    pixel_size_m: float,
    distance_m: float,
    lambda0_m: float,
    Xbeam_m: float,
    Ybeam_m: float,
    Fbeam_m: float,
    Sbeam_m: float,
    detsize_s_m: float,
    dials_origin_mm: Sequence[float],
    ORGX: float,
    ORGY: float,
    close_distance_m: float,
    phi0_rad: float,
    osc_rad: float,
    twotheta_rad: float,
    noise_file: bool = False,
) -> list[SmvField]:
    """Header fields (after TYPE) of nanoBragg.c's intfile, or of its noisefile when ``noise_file``.

    Inputs are the C program's final values in SI units: lengths in metres,
    angles in radians, ``dials_origin_mm`` (x, y, z) in mm, ``ORGX``/``ORGY`` in
    pixels, ``twotheta_rad`` the detector two-theta. The two variants differ only
    in DENZO_X_BEAM/DENZO_Y_BEAM, written as ``(Sbeam - 0.0*pixel)`` in the
    intfile and ``(Sbeam + 0.0*pixel)`` in the noisefile (which differs for a beam
    centre of -0.0).
    """
    if len(dials_origin_mm) != 3:
        raise ValueError(f"dials_origin_mm needs 3 values, got {len(dials_origin_mm)}")
    pixel = pixel_size_m
    denzo_shift = 0.0 * pixel
    denzo_s = Sbeam_m + denzo_shift if noise_file else Sbeam_m - denzo_shift
    denzo_f = Fbeam_m + denzo_shift if noise_file else Fbeam_m - denzo_shift
    phi_deg = phi0_rad * RTD
    return [
        SmvField("SIZE1", "%d" % fpixels),
        SmvField("SIZE2", "%d" % spixels),
        SmvField("PIXEL_SIZE", _g(pixel * 1000.0)),
        SmvField("DISTANCE", _g(distance_m * 1000.0)),
        SmvField("WAVELENGTH", _g(lambda0_m * 1e10)),
        SmvField("BEAM_CENTER_X", _g(Xbeam_m * 1000.0)),
        SmvField("BEAM_CENTER_Y", _g(Ybeam_m * 1000)),
        SmvField("ADXV_CENTER_X", _g(Fbeam_m * 1000.0)),
        SmvField("ADXV_CENTER_Y", _g((detsize_s_m - Sbeam_m) * 1000)),
        SmvField("MOSFLM_CENTER_X", _g((Sbeam_m - 0.5 * pixel) * 1000.0)),
        SmvField("MOSFLM_CENTER_Y", _g((Fbeam_m - 0.5 * pixel) * 1000)),
        SmvField("DENZO_X_BEAM", _g(denzo_s * 1000.0)),
        SmvField("DENZO_Y_BEAM", _g(denzo_f * 1000)),
        SmvField("DIALS_ORIGIN", ",".join(_g(value) for value in dials_origin_mm), terminator=""),
        SmvField("XDS_ORGX", _g(ORGX)),
        SmvField("XDS_ORGY", _g(ORGY)),
        SmvField("CLOSE_DISTANCE", _g(close_distance_m * 1000.0)),
        SmvField("PHI", _g(phi_deg)),
        SmvField("OSC_START", _g(phi_deg)),
        SmvField("OSC_RANGE", _g(osc_rad * RTD)),
        SmvField("TWOTHETA", _g(twotheta_rad * RTD)),
        SmvField("DETECTOR_SN", "000"),
        SmvField("BEAMLINE", "fake"),
    ]
