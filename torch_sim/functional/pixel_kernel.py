"""The per-pixel physics of nanoBragg.c, vectorized over a chunk of pixels.

For each pixel the C program loops over sensor layers (T), subpixels (S =
oversample^2), sources (J), phi steps and mosaic domains (R = phisteps x
domains). Here those loops are tensor dimensions [P, T, S, J, R] in the same
order, so that the C's order-dependent rules can be reproduced exactly:

- the solid angle of the pixel is the first subpixel's, the capture fraction
  the last layer's first subpixel's, the polarization the first source
  (not cut by dmin) of the first subpixel's, unless the matching
  ``-oversample_*`` flag is set;
- with an ``-oversample_*`` flag the C multiplies the running sum by the
  factor after every term (``I = (I + term) * factor``), reproduced with a
  suffix product over the evaluation order;
- the first out-of-range tricubic interpolation switches interpolation off for
  the rest of the image (see :class:`InterpolationState`).
"""

from dataclasses import dataclass, field
from typing import Optional

import torch

from torch_sim.config.enums import CrystalShape
from torch_sim.functional.compilation import maybe_compiled
from torch_sim.functional.detector_absorption import layer_capture_fraction
from torch_sim.functional.lattice_shape import lattice_factor, nearest_index
from torch_sim.functional.lattice_sum import LatticeSumSpec, lattice_sum, miller_indices
from torch_sim.functional.polarization import polarization_factor
from torch_sim.functional.rotations import rotate_axis
from torch_sim.functional.scattering_vectors import scattering_vector_values, scattering_vectors
from torch_sim.functional.solid_angle import pixel_solid_angle
from torch_sim.functional.structure_factors import (
    interpolated_structure_factor,
    interpolation_out_of_range,
    nearest_structure_factor,
)
from torch_sim.functional.vector_ops import dot, norm, unitize


@dataclass
class ScatteringSetup:
    """Everything the pixel loop needs that does not depend on the pixel (one per render).

    Lengths of the detector in metres, of the crystal in Angstrom; tensors share
    one dtype and device.
    """

    pix0: torch.Tensor
    fdet: torch.Tensor
    sdet: torch.Tensor
    odet: torch.Tensor
    beam: torch.Tensor
    pixel_size: torch.Tensor
    distance: torch.Tensor
    close_distance: torch.Tensor
    oversample: int
    curved: bool
    point_pixel: bool
    layer_thickness: torch.Tensor  #: spacing of the sensor layers (m)
    n_layers: int
    mu: torch.Tensor  #: sensor attenuation (1/m)
    compute_capture: bool  #: the C computes capture fractions (thick sensor, or -oversample_thick)
    incident: torch.Tensor  #: [J, 3] unit vectors along the beam
    wavelength_A: torch.Tensor  #: [J]
    source_weight: Optional[torch.Tensor]  #: [J] or None (the C ignores weights)
    polar_vector: torch.Tensor
    kahn_factor: torch.Tensor
    nopolar: bool
    real_vectors: torch.Tensor  #: [R, 3, 3] rows a, b, c (A) per phi step and domain
    reciprocal_matrix: torch.Tensor  #: [3, 3] rows a*, b*, c* (1/A), unrotated
    N: torch.Tensor  #: [3] cells along a, b, c
    shape: CrystalShape
    fudge: float
    table: Optional[torch.Tensor]  #: [H, K, L] amplitudes, unset entries already default_F
    bordered_table: Optional[torch.Tensor]  #: [H+2, K+2, L+2] the table inside a border of default_F
    hkl_min: Optional[torch.Tensor]  #: [3]
    default_F: torch.Tensor
    interpolate: bool
    interpolation_fallback: str
    dmin_A: float
    background: torch.Tensor  #: water background I_bg added to every pixel's sum
    scale: torch.Tensor  #: r_e^2 * fluence / steps
    has_water: bool
    oversample_omega: bool = False
    oversample_polar: bool = False
    oversample_thick: bool = False
    #: Evaluate the lattice sum with torch.compile'd kernels.
    compiled: bool = False


@dataclass
class ChunkResult:
    """Outputs of one chunk of pixels.

    ``values`` [P] photons; ``solid_angle_sum`` [P] each pixel's part of the C's
    ``omega_sum`` (detached); ``interpolation_tripped`` the C warning if this chunk hit
    the first out-of-range interpolation (interpolation is then off for the
    rest of the render) and ``tripped_at`` the position in the chunk of that pixel.
    """

    values: torch.Tensor
    solid_angle_sum: torch.Tensor
    interpolation_tripped: Optional[str] = None
    tripped_at: Optional[int] = None


@dataclass
class PixelTrace:
    """Values of the last evaluation of one pixel, as ``-printout_pixel`` prints them."""

    values: dict = field(default_factory=dict)


def _lab_positions(setup: ScatteringSetup, fast_coordinate: torch.Tensor, slow_coordinate: torch.Tensor,
                   layer: torch.Tensor) -> torch.Tensor:
    """Lab position (m), axis first [3, ...], of the subpixel centres at whole subpixel coordinates
    ``fast_coordinate``, ``slow_coordinate`` (floats) in sensor layer ``layer`` (all broadcast together)."""
    subpixel = setup.pixel_size / setup.oversample
    Fdet = subpixel * fast_coordinate + subpixel / 2.0
    Sdet = subpixel * slow_coordinate + subpixel / 2.0
    Odet = layer * setup.layer_thickness
    position = torch.stack([Fdet * setup.fdet[axis] + Sdet * setup.sdet[axis] + Odet * setup.odet[axis]
                            + setup.pix0[axis] for axis in range(3)])
    if setup.curved:
        # every pixel at the same distance: the flat lab y and z offsets become angles (as the C)
        flat_y, flat_z = position[1], position[2]
        position = rotate_axis(setup.distance * setup.beam, setup.sdet, flat_y / setup.distance, dim=0)
        position = rotate_axis(position, setup.fdet, flat_z / setup.distance, dim=0)
    return position


def subpixel_coordinates(fast: torch.Tensor, slow: torch.Tensor, oversample: int, dtype: torch.dtype) -> tuple:
    """Whole subpixel coordinates (fast [P, S], slow [P, S]) of the pixels at (``fast``, ``slow``) [P] (integer
    tensors), as floats of ``dtype`` (whole numbers, exact in float32 below 2^24), S ordered (sub-slow, sub-fast).

    Made before the geometry (and outside its compiled graph), so that the geometry reads them as one
    contiguous run of P x S values instead of forming them from the pixel and subpixel indices.
    """
    sub = torch.arange(oversample, device=fast.device, dtype=dtype)
    return (fast.to(dtype)[:, None] * oversample + sub.repeat(oversample),
            slow.to(dtype)[:, None] * oversample + sub.repeat_interleave(oversample))


def subpixel_positions(setup: ScatteringSetup, fast: torch.Tensor, slow: torch.Tensor) -> torch.Tensor:
    """Lab position (m) of every subpixel in every sensor layer, axis first: [3, P, T, S], for the subpixel
    coordinates ``fast``, ``slow`` [P, S] (:func:`subpixel_coordinates`)."""
    layers = torch.arange(setup.n_layers, device=fast.device, dtype=fast.dtype)
    return _lab_positions(setup, fast[:, None, :], slow[:, None, :], layers[:, None])


def pixel_ray(setup: ScatteringSetup, fast: torch.Tensor, slow: torch.Tensor, layer, subpixel) -> tuple:
    """(unit vector [3, P], length [P] (m)) from the sample to one subpixel of each pixel, for the subpixel
    coordinates ``fast``, ``slow`` [P, S]: ``layer`` and ``subpixel`` (index along S) are ints or [P] integer
    tensors.

    The same numbers as that subpixel's entry of :func:`subpixel_positions`, computed for it alone (a
    per-pixel factor then has a per-pixel backward pass).
    """
    layer = torch.as_tensor(layer, device=fast.device).to(fast.dtype)
    if isinstance(subpixel, int):
        fast, slow = fast[:, subpixel], slow[:, subpixel]
    else:
        fast, slow = fast.gather(1, subpixel[:, None])[:, 0], slow.gather(1, subpixel[:, None])[:, 0]
    return unitize(_lab_positions(setup, fast, slow, layer), dim=0)


def _structure_factor(setup: ScatteringSetup, hkl: torch.Tensor, reached: torch.Tensor,
                      interpolating: bool) -> tuple[torch.Tensor, Optional[str], Optional[int]]:
    """F_cell [P, T, S, J, R] with the C program's interpolation rules; if the fallback trips, its
    warning and the pixel (position in the chunk) where it did.

    ``hkl`` is axis first, [3, P, T, S, J, R].

    ``reached`` marks evaluations the C gets to (not cut by dmin, F_latt != 0
    unless there is water background): only those can trip the interpolation fallback.
    """
    if setup.table is None:
        return setup.default_F.expand(hkl.shape[1:]), None, None
    nearest = nearest_structure_factor(hkl, setup.bordered_table, setup.hkl_min)
    if not (setup.interpolate and interpolating):
        return nearest, None, None
    interpolated = interpolated_structure_factor(hkl, setup.table, setup.hkl_min)
    out_of_range = interpolation_out_of_range(hkl, setup.hkl_min, tuple(setup.table.shape)) & reached
    if setup.interpolation_fallback == "local":
        return torch.where(out_of_range, nearest, interpolated), None, None
    flat = out_of_range.reshape(-1)
    if not bool(flat.any()):
        return interpolated, None, None
    first = int(torch.argmax(flat.to(torch.uint8)))
    h = hkl.reshape(3, -1)[:, first]
    h0 = nearest_index(h)
    warning = (
        "WARNING: out of range for three point interpolation: h,k,l,h0,k0,l0: "
        f"{float(h[0]):g},{float(h[1]):g},{float(h[2]):g},{int(h0[0])},{int(h0[1])},{int(h0[2])} \n"
        "WARNING: further warnings will not be printed! "
    )
    before = (torch.arange(flat.numel(), device=flat.device) < first).reshape(out_of_range.shape)
    return torch.where(before, interpolated, nearest), warning, first // out_of_range[0].numel()


def _first_true(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the first True along the last dimension and whether there is one."""
    return torch.argmax(mask.to(torch.uint8), dim=-1), mask.any(-1)


def _evaluation_terms(setup: ScatteringSetup, geometry: "PixelGeometry", interpolating: bool):
    """Generic path: every evaluation's F_cell^2 F_latt^2 [P, T, S, J, R] kept for autograd.

    Returns (hkl [3, P, T, S, J, R], lattice, F_cell, term, skipped, (warning, pixel) if the fallback tripped).
    """
    cut = geometry.cut
    hkl = miller_indices(geometry.scattering, setup.real_vectors).transpose(1, 2).reshape(
        3, *cut.shape, setup.real_vectors.shape[0])
    lattice, _, _, _ = lattice_factor(hkl, setup.N, setup.reciprocal_matrix, setup.shape, setup.fudge)
    skipped = cut[..., None].expand(lattice.shape)
    if not setup.has_water:
        skipped = skipped | (lattice == 0.0)
    F_cell, warning, tripped_at = _structure_factor(setup, hkl, ~skipped, interpolating)
    term = F_cell * F_cell * lattice * lattice * geometry.weight[..., None]
    return hkl, lattice, F_cell, term, skipped, (warning, tripped_at)


def _running_product_intensity(setup: ScatteringSetup, term, skipped, geometry: "PixelGeometry") -> torch.Tensor:
    """The C's I = (I + term) * factor over evaluations in loop order when -oversample_* flags are set, [P]."""
    n_pixels = term.shape[0]
    factor = torch.ones_like(term)
    if setup.oversample_thick:
        factor = factor * geometry.capture[..., None, None]
    if setup.oversample_polar:
        factor = factor * geometry.polar[..., None]
    if setup.oversample_omega:
        factor = factor * geometry.omega[..., None, None]
    factor = torch.where(skipped, torch.ones_like(factor), factor).reshape(n_pixels, -1)
    suffix = torch.flip(torch.cumprod(torch.flip(factor, [1]), dim=1), [1])
    terms = term.reshape(n_pixels, -1)
    # a zero term adds nothing even where the product of factors overflows (the C's running sum reaches inf)
    weighted = torch.where(terms == 0.0, torch.zeros_like(terms), terms * suffix)
    return setup.background * suffix[:, 0] + weighted.sum(-1)


@dataclass
class PixelGeometry:
    """Everything per subpixel, layer and source of a chunk of P pixels (before the lattice sum).

    Lengths in metres, scattering vectors in 1/A. The ``*_final`` fields [P] are the solid angle,
    polarization and capture fraction that the C applies once per pixel (its first/last values;
    those with an -oversample_* flag are applied per term instead). The Optional fields are
    None when only the lattice sum needs the geometry (fewer outputs to write and differentiate).
    """

    position: torch.Tensor  #: [3, P, T, S]
    omega: Optional[torch.Tensor]  #: [P, T, S]
    capture: Optional[torch.Tensor]  #: [P, T, S]
    counted: torch.Tensor  #: [P], this chunk's part of the C's omega_sum (detached)
    stol: Optional[torch.Tensor]  #: [P, T, S, J]
    cut: Optional[torch.Tensor]  #: [P, T, S, J] dmin
    polar: Optional[torch.Tensor]  #: [P, T, S, J]
    weight: torch.Tensor  #: [P, T, S, J]: 0 where cut, else the source weight (1 as in the C)
    omega_final: torch.Tensor  #: [P]
    polar_final: torch.Tensor  #: [P]
    capture_final: torch.Tensor  #: [P]
    scattering: torch.Tensor  #: [3, P*T*S*J] axis first, contiguous (:func:`scattering_vectors` of ``position``)


def _capture_fraction(setup: ScatteringSetup, layer: torch.Tensor, diffracted: torch.Tensor) -> torch.Tensor:
    """Fraction of the ray along ``diffracted`` [3, ...] absorbed in sensor layer ``layer`` (1 without the C's
    capture computation)."""
    if not setup.compute_capture:
        return torch.ones_like(diffracted[0])
    return layer_capture_fraction(layer, setup.layer_thickness, setup.mu, dot(diffracted, setup.odet, dim=0))


def _first_evaluation_polarization(setup: ScatteringSetup, fast: torch.Tensor, slow: torch.Tensor,
                                   cut: torch.Tensor) -> torch.Tensor:
    """polar_final [P]: the polarization of each pixel's first evaluation not cut by dmin, in the C's loop order
    over (layer, subpixel, source), evaluated for that ray only (0 where every evaluation is cut).

    ``fast``, ``slow`` [P, S] subpixel coordinates, ``cut`` [P, T, S, J].
    """
    n_pixels, _, n_subpixels, n_sources = cut.shape
    first, found = _first_true(~cut.reshape(n_pixels, -1))
    ray, _ = pixel_ray(setup, fast, slow, first // (n_subpixels * n_sources), first // n_sources % n_subpixels)
    polar = polarization_factor(setup.kahn_factor, setup.incident.T[:, first % n_sources], ray,
                                setup.polar_vector, dim=0)
    return torch.where(found, polar, torch.zeros_like(polar))


def pixel_geometry(setup: ScatteringSetup, fast: torch.Tensor, slow: torch.Tensor, per_subpixel: bool = True) -> tuple:
    """The fields of :class:`PixelGeometry` but the last (the scattering vectors, which
    :func:`scattering_vectors` makes from ``position``), as a tuple (so it can be compiled and checkpointed),
    for the subpixel coordinates ``fast``, ``slow`` [P, S] (:func:`subpixel_coordinates`).

    The solid angle, capture fraction and polarization are evaluated only for the ray the C takes
    each pixel's value from (the ``*_final`` fields); with ``per_subpixel`` also for every subpixel
    and source, otherwise the Optional fields are None.
    """
    position = subpixel_positions(setup, fast, slow)  # [3, P, T, S]
    n_pixels, n_layers, n_subpixels = position.shape[1:]
    incident = setup.incident.T  # [3, J]
    first_ray, first_airpath = pixel_ray(setup, fast, slow, 0, 0)
    omega_final = pixel_solid_angle(first_airpath, setup.pixel_size, setup.close_distance, setup.point_pixel)
    last_layer_ray = first_ray if n_layers == 1 else pixel_ray(setup, fast, slow, n_layers - 1, 0)[0]
    capture_final = _capture_fraction(setup, last_layer_ray.new_full((), n_layers - 1), last_layer_ray)
    stol = None
    if per_subpixel or setup.dmin_A > 0.0:
        # sin(theta)/lambda only selects (dmin) and is printed: no gradient
        scattering = scattering_vector_values(position.detach().reshape(3, -1), incident.detach(),
                                              setup.wavelength_A.detach())
        stol = 0.5 * norm(scattering.reshape(3, n_pixels, n_layers, n_subpixels, -1), dim=0)  # [P, T, S, J]
    if setup.dmin_A > 0.0:
        cut = (stol > 0.0) & (setup.dmin_A > 0.5 / torch.where(stol > 0.0, stol, torch.ones_like(stol)))
    else:
        cut = position.new_zeros((n_pixels, n_layers, n_subpixels, incident.shape[1]), dtype=torch.bool)
    weight = (torch.ones_like(cut, dtype=position.dtype) if setup.source_weight is None
              else setup.source_weight.expand(cut.shape))
    weight = torch.where(cut, torch.zeros_like(weight), weight)
    if setup.nopolar:
        polar_final = torch.ones_like(omega_final)
    else:
        polar_final = _first_evaluation_polarization(setup, fast, slow, cut)
    omega = capture = polar = None
    if per_subpixel or setup.oversample_omega:
        diffracted, airpath = unitize(position, dim=0)
        omega = pixel_solid_angle(airpath, setup.pixel_size, setup.close_distance, setup.point_pixel)  # [P, T, S]
    if per_subpixel:
        layers = torch.arange(n_layers, device=fast.device).to(airpath.dtype)[None, :, None]
        capture = _capture_fraction(setup, layers, diffracted)  # [P, T, S]
        if setup.nopolar and not setup.oversample_polar:
            polar = torch.ones_like(stol)
        else:
            polar = polarization_factor(setup.kahn_factor, incident[:, None, None, None, :], diffracted[..., None],
                                        setup.polar_vector, dim=0)
    else:
        stol = cut = None
    every_omega = (omega if setup.oversample_omega
                   else omega_final[:, None, None].expand(n_pixels, n_layers, n_subpixels))
    counted = every_omega.detach().sum((1, 2))
    return (position, omega, capture, counted, stol, cut, polar, weight, omega_final, polar_final, capture_final)


def uses_generic_path(setup: ScatteringSetup, interpolating: bool) -> bool:
    """True when evaluations must be kept one by one (-oversample_* running products, interpolation)."""
    running_product = setup.oversample_omega or setup.oversample_polar or setup.oversample_thick
    return running_product or (setup.interpolate and interpolating)


def pixel_intensities(setup: ScatteringSetup, fast: torch.Tensor, slow: torch.Tensor, interpolating: bool = True,
                      trace: Optional[PixelTrace] = None, checkpoint_geometry: bool = False) -> ChunkResult:
    """Float-image values (photons) of the pixels at (``fast``, ``slow``) [P] (integer tensors).

    A pure function of its inputs (so a chunk can be recomputed for its backward
    pass): ``interpolating`` is the C program's interpolation switch at the
    start of the chunk. Unless :func:`uses_generic_path` or a trace, the
    evaluations go through :func:`lattice_sum`, whose backward keeps only its
    inputs. The per-subpixel geometry's backward keeps only its inputs too when
    compiled (it recomputes the rest inside the compiled backward), and eagerly
    with ``checkpoint_geometry`` (a checkpoint).
    """
    generic = uses_generic_path(setup, interpolating) or trace is not None
    geometry_function = maybe_compiled(pixel_geometry, setup.compiled,
                                       recompute_in_backward=setup.compiled or checkpoint_geometry)
    fields = geometry_function(setup, *subpixel_coordinates(fast, slow, setup.oversample, setup.pixel_size.dtype),
                               generic)
    scattering = scattering_vectors(fields[0].reshape(3, -1), setup.incident.T, setup.wavelength_A, setup.compiled)
    geometry = PixelGeometry(*fields, scattering)
    n_pixels = fast.shape[0]
    running_product = setup.oversample_omega or setup.oversample_polar or setup.oversample_thick
    tripped = (None, None)
    if generic:
        hkl, lattice, F_cell, term, skipped, tripped = _evaluation_terms(setup, geometry, interpolating)
        if running_product:
            intensity = _running_product_intensity(setup, term, skipped, geometry)
        else:
            intensity = setup.background + term.reshape(n_pixels, -1).sum(-1)
    else:
        spec = LatticeSumSpec(setup.shape, setup.fudge, setup.table is not None, setup.compiled)
        sums = lattice_sum(geometry.scattering, setup.real_vectors, setup.N, setup.reciprocal_matrix,
                           setup.bordered_table, setup.hkl_min, setup.default_F, spec)
        intensity = setup.background + (sums.reshape(n_pixels, -1) * geometry.weight.reshape(n_pixels, -1)).sum(-1)
    value = setup.scale * intensity  # then the once-per-pixel factors, in the C's order
    if not setup.oversample_thick:
        value = value * geometry.capture_final
    if not setup.oversample_polar:
        value = value * geometry.polar_final
    if not setup.oversample_omega:
        value = value * geometry.omega_final
    if trace is not None:
        cut, polar, omega, capture = geometry.cut, geometry.polar, geometry.omega, geometry.capture
        trace.values.update(
            stol=geometry.stol[0, -1, -1, -1], position=geometry.position[:, 0, -1, -1], I=intensity[0],
            # every evaluation in loop order, for the C's stale values (see Simulator.trace_pixel)
            hkl_all=hkl[:, 0].reshape(3, -1), F_latt_all=lattice[0].reshape(-1), F_cell_all=F_cell[0].reshape(-1),
            computed=~cut[0, ..., None].expand(lattice.shape[1:]).reshape(-1), reached=~skipped[0].reshape(-1),
            polar=polar[0, -1, -1, -1] if setup.oversample_polar else geometry.polar_final[0],
            omega=omega[0, -1, -1] if setup.oversample_omega else geometry.omega_final[0],
            capture=capture[0, -1, -1] if setup.oversample_thick else geometry.capture_final[0],
            real_vectors=setup.real_vectors[-1], value=value[0],
        )
    return ChunkResult(value, geometry.counted, *tripped)
