"""Solid angle subtended by a pixel (C ``omega_pixel``)."""

import torch


def pixel_solid_angle(airpath: torch.Tensor, pixel_size: torch.Tensor, close_distance: torch.Tensor, point_pixel: bool) -> torch.Tensor:
    """Steradians: pixel^2 / airpath^2 * close_distance / airpath (obliquity), or 1/airpath^2 for ``-point_pixel``.

    Lengths in metres; ``airpath`` is the sample to (sub)pixel distance.
    """
    if point_pixel:
        return 1.0 / airpath / airpath
    return pixel_size * pixel_size / airpath / airpath * close_distance / airpath
