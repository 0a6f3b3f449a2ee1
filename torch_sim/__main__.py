"""``python -m torch_sim``: the torch-sim command line."""

from torch_sim.cli.main import console

console()
