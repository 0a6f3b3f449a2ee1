"""Refinable parameters: named leaf tensors in command-line units."""

import math
from typing import Mapping

import torch
from torch import nn

from torch_sim.errors import InputError


def parameter_dict(values: Mapping[str, float], dtype: torch.dtype, device) -> nn.ParameterDict:
    """Scalar parameters that do not require grad until the user asks (``p.requires_grad_()``)."""
    for name, value in values.items():
        if not math.isfinite(value):
            raise InputError(f"parameter {name} is not finite ({value})")
    return nn.ParameterDict({
        name: nn.Parameter(torch.tensor(float(value), dtype=dtype, device=device), requires_grad=False)
        for name, value in values.items()
    })


def check_finite(params: Mapping[str, torch.Tensor]) -> None:
    """Raise InputError naming the first parameter holding NaN or infinity."""
    if not params:
        return
    bad = torch.stack([~torch.isfinite(p.detach()).all() for p in params.values()])
    if bool(bad.any()):
        name = list(params)[int(torch.argmax(bad.to(torch.uint8)))]
        raise InputError(f"parameter {name} is not finite")
