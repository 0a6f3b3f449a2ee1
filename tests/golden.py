"""Access to the C program's golden outputs in golden_data/nanobragg_c (shared by the tests)."""

import json
import shutil
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent.parent / "golden_data" / "nanobragg_c"
CASES = json.loads((GOLDEN / "manifest.json").read_text())["cases"]
#: Lines of the C output that carry no simulation value (a heap pointer).
IGNORED_STDOUT = ("mmap(",)


def case_dir(name: str) -> Path:
    return GOLDEN / "cases" / name


def case_args(name: str) -> list:
    return (case_dir(name) / "command.txt").read_text().split()


def stage_inputs(name: str, folder: Path) -> None:
    """Copy the inputs of a case (and a case-local matrix file) into ``folder``."""
    for input_name in CASES[name]["inputs"]:
        local = case_dir(name) / input_name
        shutil.copy(local if local.exists() else GOLDEN / "inputs" / input_name, folder / input_name)


def resolved_case(name: str, folder: Path):
    """(SimulationConfig, RawArguments) of a case, resolved in ``folder`` after staging its inputs there."""
    import pytest

    from torch_sim.config.resolve import resolve_arguments

    stage_inputs(name, folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        return resolve_arguments(case_args(name))


def float_image(name: str) -> np.ndarray:
    """The golden float image as float64 [slow, fast] (shape from the int image header size)."""
    data = np.fromfile(case_dir(name) / "floatimage.bin", dtype="<f4").astype(np.float64)
    side = stdout_value(name, " meters (", lambda line: line.split(" meters (")[1].split()[0])
    fast, slow = (int(x) for x in side.split("x"))
    return data.reshape(slow, fast)


def stdout_lines(name: str) -> list:
    return [line for line in (case_dir(name) / "stdout.txt").read_text().splitlines()
            if not line.startswith(IGNORED_STDOUT)]


def stdout_value(name: str, marker: str, extract):
    """Apply ``extract`` to the first stdout line containing ``marker``."""
    for line in stdout_lines(name):
        if marker in line:
            return extract(line)
    raise KeyError(f"{marker!r} not in {name}/stdout.txt")


def smv_parts(path: Path) -> tuple[bytes, np.ndarray]:
    """Header bytes and uint16 pixels of an SMV file written by nanoBragg."""
    raw = path.read_bytes()
    header_size = int(raw.split(b"HEADER_BYTES=")[1].split(b";")[0])
    return raw[:header_size], np.frombuffer(raw[header_size:], dtype="<u2")


def image_agreement(ours: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(correlation, max |difference| / max |reference|) of two images."""
    ours, reference = ours.ravel(), reference.ravel()
    scale = max(np.abs(reference).max(), 1e-300)
    if reference.std() == 0 or ours.std() == 0:
        correlation = 1.0 if np.allclose(ours, reference, rtol=1e-6, atol=0) else 0.0
    else:
        correlation = float(np.corrcoef(ours, reference)[0, 1])
    return correlation, float(np.abs(ours - reference).max() / scale)
