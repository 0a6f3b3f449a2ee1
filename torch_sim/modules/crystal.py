"""The crystal as an nn.Module: cell, orientation, size, rotation, mosaicity, structure factors."""

import torch
from torch import nn

from torch_sim.config.crystal_config import CrystalConfig
from torch_sim.functional.cell import LatticeVectors
from torch_sim.functional.crystal_orientation import lattice_vectors, phi_angles, rotated_real_vectors
from torch_sim.modules.parameters import parameter_dict
from torch_sim.rng import MosaicDraws, mosaic_rotation_matrices
from torch_sim.units import deg_to_rad


class Crystal(nn.Module):
    """Nanocrystal of nanoBragg.c.

    Parameters (``params``, command-line units): ``cell_a``, ``cell_b``, ``cell_c``
    (A), ``cell_alpha``, ``cell_beta``, ``cell_gamma``, ``misset_x``, ``misset_y``,
    ``misset_z``, ``phi_start`` (degrees), ``osc_range`` (degrees, when the phi
    step follows it), ``mosaic_spread`` (degrees, with more than one domain),
    ``N_a``, ``N_b``, ``N_c`` (continuous), ``default_F`` and, with an HKL table,
    ``structure_factors`` [H, K, L]. Buffers: the orientation matrix of a ``-mat``
    file, the mosaic domains' random axes and cap factors, the table's index origin
    and the mask of reflections read from the file.
    """

    def __init__(self, config: CrystalConfig, dtype: torch.dtype = torch.float64, device=None):
        super().__init__()
        self.config = config
        a, b, c, alpha, beta, gamma = config.cell_A_deg
        values = dict(cell_a=a, cell_b=b, cell_c=c, cell_alpha=alpha, cell_beta=beta, cell_gamma=gamma,
                      misset_x=config.misset_deg[0], misset_y=config.misset_deg[1], misset_z=config.misset_deg[2],
                      phi_start=config.phi_start_deg)
        if config.phistep_rule.divisor is not None:
            values["osc_range"] = config.osc_range_deg
        if config.mosaic_domains > 1:
            values["mosaic_spread"] = config.mosaic_spread_deg
        values.update(N_a=config.N_cells[0], N_b=config.N_cells[1], N_c=config.N_cells[2], default_F=config.default_F)
        self.params = parameter_dict(values, dtype, device)
        table = config.structure_factors
        if table is not None:
            self.params["structure_factors"] = nn.Parameter(
                torch.as_tensor(table.amplitudes, dtype=dtype, device=device), requires_grad=False)
            self.register_buffer("specified", torch.as_tensor(table.specified, device=device))
            self.register_buffer("hkl_min", torch.tensor(table.hkl_min, dtype=dtype, device=device))
        orientation = config.orientation_matrix
        self.register_buffer(
            "orientation", None if orientation is None else torch.as_tensor(orientation, dtype=dtype, device=device))
        draws = config.mosaic_draws
        self.register_buffer("mosaic_axis", torch.as_tensor(draws.axis, dtype=dtype, device=device))
        self.register_buffer("mosaic_cap", torch.as_tensor(draws.cap, dtype=torch.float32, device=device))

    def lattice(self) -> LatticeVectors:
        """Real and reciprocal vectors at phi = 0 without mosaicity (A, 1/A)."""
        p = self.params
        return lattice_vectors(
            p["cell_a"], p["cell_b"], p["cell_c"],
            deg_to_rad(p["cell_alpha"]), deg_to_rad(p["cell_beta"]), deg_to_rad(p["cell_gamma"]),
            [deg_to_rad(p[name]) for name in ("misset_x", "misset_y", "misset_z")],
            orientation=self.orientation, user_cell=self.config.user_cell,
        )

    def phi_angles_rad(self) -> torch.Tensor:
        """Spindle angle of each phi step (radians), [phisteps]."""
        config = self.config
        phi_start = deg_to_rad(self.params["phi_start"])
        if "osc_range" in self.params:
            step = config.phistep_rule.step(deg_to_rad(self.params["osc_range"]))
        else:
            step = torch.full_like(phi_start, deg_to_rad(config.phistep_rule.fixed))
        return phi_angles(phi_start, step, config.phisteps, config.phi_zero_rotates)

    def mosaic_matrices(self) -> torch.Tensor:
        """Rotation of each mosaic domain, [domains, 3, 3]; domain 0 is the identity."""
        if "mosaic_spread" in self.params:
            spread = deg_to_rad(self.params["mosaic_spread"])
        else:
            spread = torch.zeros_like(self.params["N_a"])
        draws = MosaicDraws(axis=self.mosaic_axis, cap=self.mosaic_cap)
        return mosaic_rotation_matrices(spread, draws, round_float32=self.config.mosaic_float32)

    def forward(self, spindle: torch.Tensor) -> tuple[LatticeVectors, torch.Tensor]:
        """Base lattice and real vectors of every phi step and domain [phisteps * domains, 3, 3] (A)."""
        lattice = self.lattice()
        # the C rotates by the domain matrices only for a positive spread
        umats = self.mosaic_matrices() if "mosaic_spread" in self.params else None
        rotated = rotated_real_vectors(lattice.real_matrix, spindle, self.phi_angles_rad(), umats)
        return lattice, rotated.reshape(-1, 3, 3)

    @property
    def N(self) -> torch.Tensor:
        return torch.stack([self.params["N_a"], self.params["N_b"], self.params["N_c"]])

    def structure_factor_table(self):
        """The amplitude table with unread entries set to default_F, or None."""
        if "structure_factors" not in self.params:
            return None
        table = self.params["structure_factors"]
        return torch.where(self.specified, table, self.params["default_F"])
