"""The simulator: detector, crystal and beam composed into one differentiable render."""

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.utils.checkpoint
from torch import nn

from torch_sim.config.raw_arguments import DEFAULT_MEMORY_BUDGET_MB
from torch_sim.config.simulation_config import SimulationConfig
from torch_sim.functional.compilation import compiler_available
from torch_sim.functional.pixel_kernel import PixelTrace, ScatteringSetup, pixel_intensities, uses_generic_path
from torch_sim.functional.structure_factors import table_with_default_border
from torch_sim.modules.beam import Beam
from torch_sim.modules.crystal import Crystal
from torch_sim.modules.detector import Detector
from torch_sim.modules.parameters import check_finite
from torch_sim.units import R_E_SQR_M2

#: From this many evaluations, one render pays for compiling the hot loop (auto mode): compiled
#: kernels save about 40 ns per evaluation on a CPU core, against 3-5 s of tracing in each new process
#: (kernels cached on disk) or 10-30 s the first time. Refinements, which render many times, should
#: ask for compile=True.
AUTO_COMPILE_EVALUATIONS = 2e8

#: Bytes of intermediate tensors per evaluation (pixel x layer x subpixel x source x phi x domain)
#: per byte of the dtype; measured on the forward pass, interpolation needs more.
_WORDS_PER_EVALUATION = 40
_WORDS_PER_EVALUATION_INTERPOLATED = 60


@dataclass
class RenderSummary:
    """What one render leaves besides the image: the C's interpolation switch, its warning and the flat
    index of the pixel where it tripped, and omega_sum."""

    interpolating: bool = True
    warning: Optional[str] = None
    tripped_pixel: Optional[int] = None
    solid_angle_sum: float = 0.0


class Simulator(nn.Module):
    """nanoBragg.c as an ``nn.Module``: ``forward()`` returns the float image [slow, fast] in photons.

    ``params`` maps stable names to the leaf tensors of the detector, crystal and
    beam (command-line units); call ``requires_grad_()`` on those to refine.
    Pixels are rendered in chunks sized from ``memory_budget_mb``; ``compile``
    runs the hot loop through torch.compile (the first render pays the
    compilation); None compiles renders of at least AUTO_COMPILE_EVALUATIONS
    evaluations when a compiler is available.
    """

    def __init__(self, config: SimulationConfig, dtype: torch.dtype = torch.float64, device=None,
                 memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB, compile: Optional[bool] = None):
        super().__init__()
        self.config = config
        self.memory_budget_mb = memory_budget_mb
        self.detector = Detector(config.detector, dtype, device)
        self.crystal = Crystal(config.crystal, dtype, device)
        self.beam = Beam(config.beam, dtype, device)
        self.register_buffer("pixel_index", torch.as_tensor(self._rendered_pixels(), device=device))
        if compile is None:
            compile = (self.evaluations() >= AUTO_COMPILE_EVALUATIONS
                       and compiler_available(self.pixel_index.device))
        #: Evaluate the hot loop with torch.compile'd kernels (same numbers within rounding). Not named
        #: ``compile``, which would hide nn.Module.compile().
        self.compiled_kernels = compile
        #: The state left by the latest forward(): interpolation switch, warning, solid angle sum.
        self.last_render: Optional[RenderSummary] = None

    def _rendered_pixels(self) -> np.ndarray:
        """Flat indices (slow * fpixels + fast) of the pixels inside the ROI and not masked, in C order."""
        detector = self.config.detector
        fast_min, fast_max, slow_min, slow_max = detector.roi
        slow, fast = np.meshgrid(np.arange(detector.spixels), np.arange(detector.fpixels), indexing="ij")
        keep = (fast >= fast_min) & (fast <= fast_max) & (slow >= slow_min) & (slow <= slow_max)
        if detector.mask is not None:
            keep &= detector.mask != 0
        return np.flatnonzero(keep.reshape(-1))

    @property
    def params(self) -> dict:
        """All refinable parameters by name."""
        merged = {}
        for module in (self.detector, self.crystal, self.beam):
            merged.update(module.params.items())
        return merged

    @property
    def dtype(self) -> torch.dtype:
        return self.detector.params["pixel_size"].dtype

    def scattering_setup(self):
        """Everything pixel-independent, computed once per render: (setup, detector geometry, lattice)."""
        config = self.config
        geometry = self.detector()
        layer_thickness, mu = self.detector.sensor()
        reference = geometry.pixel_size
        polar_vector = torch.tensor(config.detector.polar_vector, dtype=reference.dtype, device=reference.device)
        spindle = torch.tensor(config.detector.spindle_vector, dtype=reference.dtype, device=reference.device)
        incident, wavelength, weights = self.beam.sources(geometry.beam, polar_vector)
        lattice, real_vectors = self.crystal(spindle)
        table = self.crystal.structure_factor_table()
        crystal = config.crystal
        beam_params = self.beam.params
        setup = ScatteringSetup(
            pix0=geometry.pix0, fdet=geometry.fdet, sdet=geometry.sdet, odet=geometry.odet, beam=geometry.beam,
            pixel_size=geometry.pixel_size, distance=geometry.distance, close_distance=geometry.close_distance,
            oversample=config.detector.oversample, curved=config.detector.curved,
            point_pixel=config.detector.point_pixel, layer_thickness=layer_thickness,
            n_layers=config.detector.thicksteps, mu=mu,
            compute_capture=config.detector.thickness_um > 0.0 or config.detector.oversample_thick,
            incident=incident, wavelength_A=wavelength,
            source_weight=weights if config.beam.use_source_weights else None,
            polar_vector=polar_vector, kahn_factor=beam_params["polarization"], nopolar=config.beam.nopolar,
            real_vectors=real_vectors, reciprocal_matrix=lattice.reciprocal_matrix, N=self.crystal.N,
            shape=crystal.shape, fudge=crystal.fudge, table=table,
            bordered_table=None if table is None else table_with_default_border(table, self.crystal.params["default_F"]),
            hkl_min=self.crystal.hkl_min if table is not None else None,
            default_F=self.crystal.params["default_F"],
            interpolate=crystal.interpolate, interpolation_fallback=crystal.interpolation_fallback,
            dmin_A=config.beam.dmin_A, background=self.beam.water_background(),
            scale=R_E_SQR_M2 * beam_params["fluence"] / config.steps,
            has_water=config.beam.water_size_um != 0.0,
            oversample_omega=config.detector.oversample_omega, oversample_polar=config.detector.oversample_polar,
            oversample_thick=config.detector.oversample_thick, compiled=self.compiled_kernels,
        )
        return setup, geometry, lattice

    def evaluations_per_pixel(self) -> int:
        """Sensor layers x subpixels x sources x phi steps x mosaic domains."""
        config = self.config
        return (config.detector.thicksteps * config.detector.oversample**2 * config.beam.n_sources
                * config.crystal.phisteps * config.crystal.mosaic_domains)

    def evaluations(self) -> int:
        """Evaluations of the structure and lattice factors in one render."""
        return int(self.pixel_index.numel()) * self.evaluations_per_pixel()

    def chunk_pixels(self) -> int:
        """Pixels per chunk so that the intermediates of one chunk fit the memory budget."""
        words = _WORDS_PER_EVALUATION_INTERPOLATED if self.config.crystal.interpolate else _WORDS_PER_EVALUATION
        itemsize = torch.finfo(self.dtype).bits // 8
        return max(1, int(self.memory_budget_mb * 2**20 / (self.evaluations_per_pixel() * words * itemsize)))

    def render_values(self, setup: ScatteringSetup, pixel_index: torch.Tensor, summary: RenderSummary,
                      progress=None) -> torch.Tensor:
        """Values of the pixels ``pixel_index`` (flat, C order), chunk by chunk.

        When gradients are needed and there is more than one chunk, intermediates
        are recomputed during backward instead of kept: the lattice sum keeps only
        its inputs anyway, so only the per-subpixel geometry is checkpointed (the
        whole chunk on the generic path), and memory stays bounded by one chunk.
        """
        fpixels = self.config.detector.fpixels
        chunk = self.chunk_pixels()
        n_pixels = pixel_index.numel()
        checkpointed = torch.is_grad_enabled() and n_pixels > chunk and any(p.requires_grad for p in self.params.values())
        values, solid_angle = [], []
        for start in range(0, n_pixels, chunk):
            index = pixel_index[start:start + chunk]
            count = index.numel()
            if self.compiled_kernels and count < chunk and n_pixels > chunk:
                # one tensor shape for every chunk, so the compiled kernels are reused
                index = torch.cat((index, index[-1:].expand(chunk - count)))
            interpolating = summary.interpolating
            fast, slow = index % fpixels, index // fpixels
            if checkpointed and uses_generic_path(setup, interpolating):
                result = torch.utils.checkpoint.checkpoint(
                    pixel_intensities, setup, fast, slow, interpolating, use_reentrant=False)
            else:
                result = pixel_intensities(setup, fast, slow, interpolating, checkpoint_geometry=checkpointed)
            if result.interpolation_tripped is not None:
                summary.interpolating, summary.warning = False, result.interpolation_tripped
                summary.tripped_pixel = int(index[result.tripped_at])
            values.append(result.values[:count])
            solid_angle.append(result.solid_angle_sum[:count].sum())
            if progress is not None:
                progress(count)
        if not values:
            return torch.zeros(0, dtype=self.dtype, device=pixel_index.device)
        summary.solid_angle_sum = float(torch.stack(solid_angle).sum())
        return torch.cat(values)

    def forward(self, progress=None) -> torch.Tensor:
        """The float image [spixels, fpixels] (photons per pixel), zero outside the ROI and mask."""
        check_finite(self.params)
        setup, _, _ = self.scattering_setup()
        summary = RenderSummary()
        values = self.render_values(setup, self.pixel_index, summary, progress)
        self.last_render = summary
        detector = self.config.detector
        if values.numel() < detector.spixels * detector.fpixels:  # an ROI or a mask (else pixel_index is 0, 1, ...)
            image = torch.zeros(detector.spixels * detector.fpixels, dtype=values.dtype, device=values.device)
            values = image.index_put((self.pixel_index,), values)
        return values.reshape(detector.spixels, detector.fpixels)

    def _trace_one(self, setup: ScatteringSetup, index: int) -> PixelTrace:
        """Trace of the pixel at flat index ``index``, with the interpolation state it had in the render."""
        fpixels, device = self.config.detector.fpixels, self.pixel_index.device
        summary = self.last_render
        tripped = summary is not None and summary.tripped_pixel is not None
        trace = PixelTrace()
        pixel_intensities(setup, torch.tensor([index % fpixels], device=device),
                          torch.tensor([index // fpixels], device=device),
                          not tripped or index < summary.tripped_pixel, trace)
        return trace

    def trace_pixel(self, fast: int, slow: int) -> PixelTrace:
        """What ``-printout_pixel`` prints for one pixel: the C's variables after its last evaluation.

        h, k, l and F_latt come from the last evaluation not cut by dmin, F_cell from
        the last one that reached the structure factor (not cut, F_latt != 0); when
        the pixel has none, the C still holds an earlier pixel's, which is looked up
        (pixels in loop order, as one C thread renders them).
        """
        setup, _, _ = self.scattering_setup()
        index = slow * self.config.detector.fpixels + fast
        trace = self._trace_one(setup, index)
        values = trace.values
        earlier = self.pixel_index[self.pixel_index < index].flip(0).tolist()
        current = values
        for name, key, mask in (("hkl", "hkl_all", "computed"), ("F_latt", "F_latt_all", "computed"),
                                ("F_cell", "F_cell_all", "reached")):
            candidates = iter(earlier)
            current = values
            while not bool(current[mask].any()):
                previous = next(candidates, None)
                if previous is None:
                    current = values
                    break
                current = self._trace_one(setup, previous).values
            chosen = current[mask].nonzero()
            last = int(chosen[-1]) if len(chosen) else -1
            values[name] = current[key][..., last]
        return trace
