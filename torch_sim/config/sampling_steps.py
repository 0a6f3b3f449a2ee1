"""nanoBragg.c's auto-selection of step counts, ranges and step sizes.

Each function returns the resolved count, the initial range and a
:class:`StepRule` saying how the step follows the (refinable) range.
"""

import math
from typing import Optional

from torch_sim.config.crystal_config import StepRule
from torch_sim.units import deg_to_rad


def divergence_steps(steps: Optional[int], range_: Optional[float], step: Optional[float]) -> tuple[int, float, StepRule]:
    """Divergence and dispersion grids: (steps, range, rule); ``None`` means "not given".

    Ranges and steps are in the C program's internal units (radians, fraction),
    since the step count is ``ceil(range/step)`` in those units.
    """
    steps = -1 if steps is None else steps
    range_ = -1.0 if range_ is None else range_
    step = -1.0 if step is None else step
    rule = StepRule(fixed=step)
    if steps <= 0:
        if range_ < 0.0:
            if step <= 0.0:
                steps, range_, rule = 1, 0.0, StepRule(fixed=0.0)
            else:
                range_, steps = step, 2
        elif step <= 0.0:
            steps, rule = 2, StepRule(divisor=1.0)
        else:
            steps = math.ceil(range_ / step)
    elif range_ < 0.0:
        if step <= 0.0:
            range_ = 1.0
            rule = StepRule(divisor=steps)
        else:
            range_, steps = step, 2
    elif step <= 0.0:
        steps = max(steps, 2)
        rule = StepRule(divisor=steps - 1)
    if range_ <= 0.0 or rule.step(range_) <= 0.0 or steps <= 0:
        steps, range_, rule = 1, 0.0, StepRule(fixed=0.0)
    return steps, range_, rule


def phi_steps(steps: Optional[int], osc: Optional[float], step: Optional[float]) -> tuple[int, float, StepRule]:
    """Spindle rotation: (phisteps, osc range, step rule), angles in degrees."""
    steps = -1 if steps is None else steps
    osc = -1.0 if osc is None else osc
    step = -1.0 if step is None else step
    rule = StepRule(fixed=step)
    if steps < 0:
        if osc < 0.0:
            if step <= 0.0:
                steps, osc, rule = 1, 0.0, StepRule(fixed=0.0)
            else:
                osc, steps = step, 2
        elif step <= 0.0:
            steps, rule = 2, StepRule(divisor=2)
        else:
            steps = math.ceil(deg_to_rad(osc) / deg_to_rad(step))
    else:
        steps = max(steps, 1)
        if osc < 0.0:
            if step <= 0.0:
                osc = 1.0
                rule = StepRule(divisor=steps)
            else:
                osc, steps = step, 2
        elif step < 0.0:
            rule = StepRule(divisor=steps)
    return steps, osc, rule


def thickness_steps(steps: Optional[int], thickness: float) -> tuple[int, float, float]:
    """Detector sensor layers: (layers, thickness, divisor giving the layer spacing thickness/divisor).

    The C has no flag for the layer spacing: it is thickness/2 with two layers by
    default, thickness/(layers-1) when the layer count is given (at least 2), and
    a negative thickness with a layer count becomes 0.5 um in that many layers.
    """
    steps = -1 if steps is None else steps
    if steps <= 0:
        steps, divisor = 2, 2
    elif thickness < 0.0:
        thickness, divisor = 0.5, steps
    else:
        steps = max(steps, 2)
        divisor = steps - 1
    if thickness <= 0.0:
        return 1, 0.0, 1
    return steps, thickness, divisor


def mosaic_domain_count(domains: Optional[int], spread: Optional[float]) -> tuple[int, float, Optional[str]]:
    """(domains, spread, warning or None) as the C selects them."""
    domains = -1 if domains is None else domains
    spread = -1.0 if spread is None else spread
    warning = None
    if domains <= 0:
        if spread < 0.0:
            domains, spread = 1, 0.0
        elif spread == 0.0:
            domains = 1
        else:
            warning = "WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains"
            domains = 10
    elif spread < 0.0:
        warning = "WARNING: no mosaic spread specified.  setting mosaic_domains = 1"
        spread, domains = 0.0, 1
    elif spread == 0.0:
        warning = "WARNING: zero mosaic spread specified.  setting mosaic_domains = 1"
        domains = 1
    return domains, spread, warning
