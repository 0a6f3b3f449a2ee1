"""The simulator restricted to the pixels a refinement compares, with its parameters substituted.

Refinement renders only the pixels that enter the loss (the model's own ROI and
mask intersected with the user's mask) and evaluates the simulator with
parameter values that are functions of the optimizer's internal variables,
through ``torch.func.functional_call``, so that reverse mode (gradients),
double backward (Hessians) and forward mode (Jacobians) all flow from the
refined values to the pixel values.
"""

from typing import Mapping

import torch
from torch import nn
from torch.func import functional_call

from torch_sim.modules.simulator import RenderSummary, Simulator


class PixelModel(nn.Module):
    """``forward()`` returns the simulator's photons per pixel at ``pixel_index`` [P] (flat slow*fpixels+fast)."""

    def __init__(self, simulator: Simulator, pixel_index: torch.Tensor):
        super().__init__()
        self.simulator = simulator
        self.register_buffer("pixel_index", pixel_index.to(simulator.pixel_index.device))
        #: Parameter name (``model.params`` key) -> state key, e.g. ``simulator.crystal.params.cell_a``.
        self.parameter_keys = {key.split(".")[-1]: key for key, _ in self.named_parameters()}

    def forward(self) -> torch.Tensor:
        setup, _, _ = self.simulator.scattering_setup()
        return self.simulator.render_values(setup, self.pixel_index, RenderSummary())

    def render(self, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Pixel values [P] with the named parameters replaced by ``values`` (scalar tensors, any autograd mode)."""
        keys = self.parameter_keys
        return functional_call(self, {keys[name]: value for name, value in values.items()})
