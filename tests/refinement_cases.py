"""A tiny synthetic refinement case shared by the refinement tests (32x32 pixels, renders in milliseconds)."""

import torch

import torch_sim

TRUTH_ARGS = ["-cell", "70", "80", "90", "75", "85", "95", "-misset", "10", "20", "30", "-default_F", "1000",
              "-N", "3", "-lambda", "1.0", "-distance", "60", "-detpixels", "32", "-pixel", "0.1",
              "-oversample", "2"]
#: The start: misset_x +0.3 deg, distance +1 mm, beam_y -0.1 mm.
START_ARGS = [*TRUTH_ARGS[:8], "10.3", *TRUTH_ARGS[9:18], "61", *TRUTH_ARGS[19:], "-Ybeam", "1.55"]
TRUTH = {"misset_x": 10.0, "distance": 60.0, "beam_y": 1.65}


def truth_image(noise_seed=None) -> torch.Tensor:
    """The true image in photons [32, 32]; with a seed, Poisson counts."""
    with torch.no_grad():
        image = torch_sim.from_nanobragg_args(TRUTH_ARGS)()
    if noise_seed is None:
        return image
    return torch.poisson(image, generator=torch.Generator().manual_seed(noise_seed))
