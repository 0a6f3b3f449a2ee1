"""File input and output in nanoBragg.c's formats (numpy; not on the differentiable path).

Readers raise ``torch_sim.errors.InputError`` with a one-line message naming the
file; writers replace their destination atomically (``atomic_write``).
"""

from torch_sim.io.atomic import atomic_path, atomic_write
from torch_sim.io.fdump import read_fdump, write_fdump
from torch_sim.io.float_image import read_float_image, write_float_image
from torch_sim.io.hdf5 import Hdf5Image, read_hdf5, write_hdf5
from torch_sim.io.hkl import HklData, StructureFactorGrid, read_hkl, structure_factor_grid
from torch_sim.io.int_image import DEFAULT_ADC_OFFSET, default_int_scale, float_to_int_image
from torch_sim.io.mosflm_matrix import read_mosflm_matrix
from torch_sim.io.pgm import default_pgm_scale, float_to_pgm_bytes, write_pgm
from torch_sim.io.roi import Roi, roi_mask
from torch_sim.io.smv import SmvField, SmvImage, header_value, read_smv, smv_header_text, write_smv
from torch_sim.io.smv_header import nanobragg_smv_header_fields
from torch_sim.io.source_file import read_source_file

__all__ = [
    "DEFAULT_ADC_OFFSET",
    "Hdf5Image",
    "HklData",
    "Roi",
    "SmvField",
    "SmvImage",
    "StructureFactorGrid",
    "atomic_path",
    "atomic_write",
    "default_int_scale",
    "default_pgm_scale",
    "float_to_int_image",
    "float_to_pgm_bytes",
    "header_value",
    "nanobragg_smv_header_fields",
    "read_fdump",
    "read_float_image",
    "read_hdf5",
    "read_hkl",
    "read_mosflm_matrix",
    "read_smv",
    "read_source_file",
    "roi_mask",
    "smv_header_text",
    "structure_factor_grid",
    "write_fdump",
    "write_float_image",
    "write_hdf5",
    "write_pgm",
    "write_smv",
]
