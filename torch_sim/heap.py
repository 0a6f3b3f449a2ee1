"""glibc malloc settings that keep freed memory for reuse, for processes that render on the CPU.

An eager render allocates and frees the same few-MB temporaries for every chunk of
pixels. With glibc's defaults the heap above them is returned to the kernel when they
are freed (and blocks above the dynamic mmap threshold are mapped afresh), so every
chunk page-faults its temporaries in again: realistic_1024, eager float64
forward+backward on one thread, 14.2 s with the defaults and 8.8 s with these settings,
at the same peak RSS (docs/performance.md). The price is that the memory of the largest
render stays with the process after it. The settings are process-wide, so the library
never applies them by itself: the torch-sim command calls :func:`keep_freed_memory`,
and a program embedding torch_sim may.
"""

import ctypes
import ctypes.util
import platform

# mallopt parameter numbers (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold_mb: int = 32, trim_threshold_mb: int = 1024, top_pad_mb: int = 64) -> bool:
    """Set glibc's M_MMAP_THRESHOLD, M_TRIM_THRESHOLD and M_TOP_PAD (MB) for this process.

    Blocks up to ``mmap_threshold_mb`` (glibc's maximum is 32 on 64-bit systems) come from the
    heap, which is trimmed only when more than ``trim_threshold_mb`` lies free at its top and
    grows ``top_pad_mb`` at a time. Returns True when glibc accepted all three, False where
    the C library is not glibc (the settings do not exist there) or refused a value.
    """
    settings = ((_M_MMAP_THRESHOLD, mmap_threshold_mb), (_M_TRIM_THRESHOLD, trim_threshold_mb),
                (_M_TOP_PAD, top_pad_mb))
    for _, megabytes in settings:
        if not 0 <= megabytes < 2048:  # mallopt takes a C int of bytes
            raise ValueError(f"malloc setting of {megabytes} MB is outside 0-2047 MB")
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    return all(libc.mallopt(parameter, megabytes << 20) == 1 for parameter, megabytes in settings)
