"""Physical constants and unit conversions, with the exact literals of nanoBragg.c.

The C program converts command-line values to SI units with a division
(``atof(arg)/1000.0`` for millimetres, ``/RTD`` for degrees, ``/1e10`` for
Angstrom). The helpers below perform the same operation in the same order so
that derived values agree with the C program to the last bit; they accept
Python numbers or tensors (and keep gradients).
"""

import math

#: Degrees per radian, written as in the C source (``180.0*M_1_PI``).
RTD = 180.0 * (1.0 / math.pi)
#: Thomson cross section r_e^2 in m^2.
R_E_SQR_M2 = 7.94079248018965e-30
#: Avogadro's number, as defined in the C source.
AVOGADRO = 6.02214179e23
#: h*c in eV*Angstrom used by ``-energy``.
HC_EV_ANGSTROM = 12398.42
#: Default fluence of the C program in photons/m^2.
DEFAULT_FLUENCE_PHOTONS_PER_M2 = 125932015286227086360700780544.0
#: Distance of generated divergence sources from the sample (m); only the direction matters.
SOURCE_DISTANCE_M = 10.0
#: Forward-scattering structure factor and molecular weight of the water background.
WATER_F = 2.57
WATER_MW_G_PER_MOL = 18.0
#: The smallest positive double, the C program's DBL_MIN.
DBL_MIN = 2.2250738585072014e-308


def mm_to_m(value_mm):
    """Millimetres to metres, as ``value/1000.0``."""
    return value_mm / 1000.0


def um_to_m(value_um):
    """Micrometres to metres, as ``value*1e-6``."""
    return value_um * 1e-6


def deg_to_rad(value_deg):
    """Degrees to radians, as ``value/RTD``."""
    return value_deg / RTD


def mrad_to_rad(value_mrad):
    """Milliradians to radians, as ``value/1000.0``."""
    return value_mrad / 1000.0


def angstrom_to_m(value_A):
    """Angstrom to metres, as ``value/1.0e10``."""
    return value_A / 1.0e10


def energy_eV_to_wavelength_A(energy_eV):
    """Photon energy in eV to wavelength in Angstrom (``12398.42/E``)."""
    return HC_EV_ANGSTROM / energy_eV
