"""torch_sim.heap: glibc keeps freed memory after keep_freed_memory (checked in child processes, since the
settings are process-wide)."""
import platform
import subprocess
import sys

import pytest

from torch_sim import heap

# malloc 20 MB, touch it, free it, and print how much of it the process still holds (MB, from /proc)
_PROBE = """
import ctypes, ctypes.util, os, sys
from torch_sim.heap import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
page = os.sysconf("SC_PAGE_SIZE")
def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * page / 2**20
before = resident_mb()
block = libc.malloc(20 << 20)
ctypes.memset(block, 1, 20 << 20)
libc.free(ctypes.c_void_p(block))
print(applied, round(resident_mb() - before))
"""

glibc_only = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="glibc malloc settings")


def _probe(mode: str) -> tuple:
    completed = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    applied, held_mb = completed.stdout.split()
    return applied, int(held_mb)


@glibc_only
def test_freed_blocks_stay_with_the_process_only_after_keep_freed_memory():
    assert _probe("default") == ("None", 0)  # 20 MB is mapped for the block and unmapped when freed
    applied, held_mb = _probe("keep")
    assert applied == "True" and held_mb >= 19  # from the heap, which is not trimmed


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert heap.keep_freed_memory() is False


@pytest.mark.parametrize("setting", ["mmap_threshold_mb", "trim_threshold_mb", "top_pad_mb"])
@pytest.mark.parametrize("megabytes", [-1, 2048])
def test_values_outside_a_c_int_of_bytes_are_refused(setting, megabytes):
    with pytest.raises(ValueError, match="outside 0-2047 MB"):
        heap.keep_freed_memory(**{setting: megabytes})
