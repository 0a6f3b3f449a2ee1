"""The folder every refinement run writes, complete or clearly marked incomplete.

Layout (see docs/Refinement.md):

- ``config.json``: the refinement's options, the starting nanoBragg command and the resolved model configuration;
- ``environment.json``: torch/numpy/python versions, device, dtype, threads, git commit, seed, start time;
- ``metrics.jsonl``: one JSON object per iteration (stage, iteration, loss, refined values, gradient norm, wall time);
- ``result.json``: values, standard errors, correlation and covariance, convergence, stages, export notes;
- ``summary.txt``: the result as a table for a person;
- ``final_args.txt``: the refined model as a nanoBragg command line (one line, shell-quoted), with
  ``refined.mat`` when a ``-mat`` crystal changed;
- ``images.png``, ``loss.png``, ``parameters.png``: observed vs simulated vs residual, the loss trace,
  the parameter traces.

Files are written into ``<folder>.incomplete`` and the folder is renamed to
its final name only when the run has finished; a run that fails leaves
``<folder>.incomplete`` with a file ``INCOMPLETE`` saying why.
"""

import dataclasses
import enum
import json
import os
import platform
import subprocess
import sys
import time
from typing import Optional

import numpy as np
import torch

from torch_sim.errors import InputError
from torch_sim.io.atomic import atomic_write

#: Suffix of a run folder that is being written or whose run failed.
INCOMPLETE_SUFFIX = ".incomplete"


def check_run_folder(path: str) -> None:
    """InputError unless ``path`` (and its temporary sibling) can be created: absent, parent a folder or creatable."""
    path = os.path.abspath(path)
    for candidate in (path, path + INCOMPLETE_SUFFIX):
        if os.path.exists(candidate):
            raise InputError(f"run folder {candidate} already exists; choose another --out or remove it")
    parent = os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise InputError(f"cannot create run folder {path}: {parent} is not a writable folder")


def jsonable(value):
    """Plain JSON values of configuration objects: dataclasses, enums, tuples, numpy scalars; arrays as a summary."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, torch.Tensor)):
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        if array.size <= 16:
            return jsonable(array.tolist())
        return {"array_shape": list(array.shape), "dtype": str(array.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def git_commit() -> Optional[str]:
    """The commit of the torch_sim checkout (``git rev-parse HEAD``), None outside a git checkout."""
    folder = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def environment(device, dtype, seed) -> dict:
    """What produced the run: versions, device, dtype, threads, commit, seed, time."""
    return {
        "torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0],
        "platform": platform.platform(), "device": str(device), "dtype": str(dtype).replace("torch.", ""),
        "threads": torch.get_num_threads(), "git_commit": git_commit(), "seed": seed,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": sys.argv,
    }


class RunFolder:
    """Writes into ``<path>.incomplete``; :meth:`finish` renames it to ``path``, :meth:`fail` marks it."""

    def __init__(self, path: str):
        check_run_folder(path)
        self.path = os.path.abspath(path)
        self.working = self.path + INCOMPLETE_SUFFIX
        os.makedirs(self.working)
        self._metrics = open(self.file("metrics.jsonl"), "w", encoding="utf-8")

    def file(self, name: str) -> str:
        """Where ``name`` is being written now (inside the temporary folder)."""
        return os.path.join(self.working, name)

    def write_json(self, name: str, data) -> None:
        with atomic_write(self.file(name), "w") as handle:
            json.dump(jsonable(data), handle, indent=1, allow_nan=False)
            handle.write("\n")

    def write_text(self, name: str, text: str) -> None:
        with atomic_write(self.file(name), "w") as handle:
            handle.write(text)

    def log_iteration(self, record: dict) -> None:
        """Append one line to metrics.jsonl (flushed, so a failed run keeps its history)."""
        self._metrics.write(json.dumps(jsonable(record), allow_nan=False) + "\n")
        self._metrics.flush()

    def finish(self) -> str:
        """Close and rename to the final name; returns the final path."""
        self._metrics.close()
        os.replace(self.working, self.path)
        return self.path

    def fail(self, reason: str) -> None:
        """Leave the temporary folder marked ``INCOMPLETE`` with the reason."""
        self._metrics.close()
        with open(self.file("INCOMPLETE"), "w", encoding="utf-8") as handle:
            handle.write(f"this run did not finish: {reason}\n")
