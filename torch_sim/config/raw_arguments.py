"""The values a nanoBragg command line sets, before any defaults logic.

Field names follow nanoBragg.c's variables; values are in command-line units
(mm, degrees, mrad, percent, um, Angstrom). ``None`` means "not given" (the C
program's NaN or -1 sentinels).
"""

from dataclasses import dataclass, field
from typing import Optional

from torch_sim.config.enums import Convention, CrystalShape, Pivot

Vector3 = tuple[float, float, float]

#: Memory budget (MB) of one chunk of pixels' intermediates. Chunks of this size stay below glibc's
#: 32 MB mmap threshold for each large temporary, which on CPU made renders 1.5-1.7 times faster
#: than 512 MB chunks (fewer page faults on fresh buffers; docs/performance.md).
DEFAULT_MEMORY_BUDGET_MB = 128.0


@dataclass
class RawArguments:
    """State of nanoBragg.c's variables after its argument loops."""

    # crystal
    Na: float = 1.0
    Nb: float = 1.0
    Nc: float = 1.0
    user_cell: bool = False
    cell: list = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # A, A, A, deg, deg, deg
    misset_random: bool = False
    misset_deg: Optional[Vector3] = None
    sample_size_mm: list = field(default_factory=lambda: [0.0, 0.0, 0.0])  # x, y, z
    xtal_shape: CrystalShape = CrystalShape.SQUARE
    fudge: float = 1.0
    mosaic_spread_deg: Optional[float] = None
    mosaic_domains: Optional[int] = None
    phi0_deg: float = 0.0
    osc_deg: Optional[float] = None
    phistep_deg: Optional[float] = None
    phisteps: Optional[int] = None
    matfilename: Optional[str] = None
    hklfilename: Optional[str] = None
    dumpfilename: str = "Fdump.bin"
    default_F: float = 0.0
    interpolate: int = 2  # 2: auto, 1: on, 0: off
    # detector
    convention: Convention = Convention.MOSFLM
    pivot: Pivot = Pivot.BEAM
    Xbeam_mm: Optional[float] = None
    Ybeam_mm: Optional[float] = None
    Xclose_mm: Optional[float] = None
    Yclose_mm: Optional[float] = None
    ORGX: Optional[float] = None
    ORGY: Optional[float] = None
    fdet_vector: Vector3 = (0.0, 0.0, 1.0)
    sdet_vector: Vector3 = (0.0, -1.0, 0.0)
    odet_vector: Vector3 = (1.0, 0.0, 0.0)
    beam_vector: Vector3 = (1.0, 0.0, 0.0)
    polar_vector: Vector3 = (0.0, 0.0, 1.0)
    spindle_vector: Vector3 = (0.0, 0.0, 1.0)
    twotheta_axis: Vector3 = (0.0, 1.0, 0.0)
    pix0_vector_m: Optional[Vector3] = None
    distance_mm: float = 100.0
    close_distance_mm: Optional[float] = None
    detector_mu_per_m: Optional[float] = None  # None: not initialised (-1 in C)
    detector_thick_um: float = 0.0
    detector_thicksteps: Optional[int] = None
    twotheta_deg: float = 0.0
    detector_rot_deg: list = field(default_factory=lambda: [0.0, 0.0, 0.0])
    detsize_f_mm: float = 102.4
    detsize_s_mm: float = 102.4
    fpixels: int = 0
    spixels: int = 0
    curved_detector: bool = False
    pixel_size_mm: float = 0.1
    point_pixel: bool = False
    oversample: Optional[int] = None
    oversample_thick: bool = False
    oversample_polar: bool = False
    oversample_omega: bool = False
    roi: Optional[tuple] = None  # xmin, xmax, ymin, ymax
    # beam
    lambda0_A: float = 1.0
    fluence: float = 125932015286227086360700780544.0
    flux: float = 0.0
    exposure_s: float = 1.0
    beamsize_mm: float = 0.1
    polarization: float = 0.0
    nopolar: bool = False
    dispersion_percent: float = 0.0
    dispsteps: Optional[int] = None
    hdivrange_mrad: Optional[float] = None
    vdivrange_mrad: Optional[float] = None
    hdivstep_mrad: Optional[float] = None
    vdivstep_mrad: Optional[float] = None
    hdivsteps: Optional[int] = None
    vdivsteps: Optional[int] = None
    round_div: bool = True
    sourcefilename: Optional[str] = None
    dmin_A: float = 0.0
    water_size_um: float = 0.0
    # parsed by the C program without any effect on the image
    density_g_per_cm3: float = 1.0
    molecular_weight: float = 18.0
    stolfilename: Optional[str] = None
    stoloutfilename: str = "output.stol"
    coherent: bool = False
    # files and output
    imginfilename: Optional[str] = None
    maskfilename: Optional[str] = None
    floatfilename: str = "floatimage.bin"
    intfilename: str = "intimage.img"
    pgmfilename: str = "image.pgm"
    noisefilename: str = "noiseimage.img"
    write_pgm: bool = True
    calculate_noise: bool = True
    intfile_scale: float = 0.0
    pgm_scale: float = 0.0
    adc_offset: float = 40.0
    printout: bool = False
    printout_pixel: Optional[tuple] = None  # fast, slow
    progress_meter: bool = True
    seed: Optional[int] = None  # None: -time(), as the C
    mosaic_seed: int = -12345678
    misset_seed: Optional[int] = None  # None: same as seed
    # torch_sim's own options
    dtype: str = "float64"
    device: str = "cpu"
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB
    compile: Optional[bool] = None  # None: automatic
    hdf5filename: Optional[str] = None
    phi_zero_rotates: bool = False
    use_source_weights: bool = False
    interpolation_fallback: str = "c"
    noise_method: str = "c"
    fit_smv_header: bool = False
