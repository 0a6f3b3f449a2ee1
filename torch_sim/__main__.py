"""``python -m torch_sim``: the torch-sim command line."""

import sys

from torch_sim.cli.main import main

sys.exit(main())
