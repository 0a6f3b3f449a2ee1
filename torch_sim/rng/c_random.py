"""The uniform deviate generator of nanoBragg.c (Numerical Recipes ``ran1``), bit for bit.

The C program keeps the generator's shuffle table and the statics of ``poidev``
and ``gaussdev`` in function-level ``static`` variables: one copy per process,
shared by every seed variable (``mosaic_seed``, ``misset_seed``, ``seed``).
:class:`CRandom` holds all of that state in one object; a seed variable is a
:class:`Seed` that ``ran1`` updates in place, like the C ``long *idum``.
"""

import struct
from dataclasses import dataclass

from torch_sim.errors import InputError

IA = 16807
IM = 2147483647
AM = 1.0 / IM
NTAB = 32
NDIV = 1 + (IM - 1) // NTAB
#: Largest value ``ran1`` returns, as the C compares it (a double).
RNMX = 1.0 - 1.2e-7

_pack, _unpack = struct.Struct("f").pack, struct.Struct("f").unpack


def f32(x: float) -> float:
    """Round a Python float to the nearest float32 (ties to even), as a C store to ``float`` does."""
    try:
        return _unpack(_pack(x))[0]
    except OverflowError:
        return float("inf") if x > 0 else float("-inf")


#: ``ran1``'s cap as the float it returns.
RNMX_F32 = f32(RNMX)


@dataclass
class Seed:
    """A C seed variable (``long``), updated in place by :meth:`CRandom.ran1`.

    ``value`` is what the C variable holds, i.e. ``-atoi(arg)`` for a ``-seed arg``
    flag. It must lie in (-IM, IM): the C reads it with ``atoi``, and +-IM would
    put the generator in a degenerate all-zero state.
    """

    value: int

    def __post_init__(self):
        if isinstance(self.value, bool) or not isinstance(self.value, int) or not -IM < self.value < IM:
            raise InputError(f"seed must be an integer in (-2147483647, 2147483647), got {self.value!r}")


class CRandom:
    """All static random state of the C program: ``ran1``'s table, ``poidev`` and ``gaussdev`` statics."""

    def __init__(self):
        self.iy = 0
        self.iv = [0] * NTAB
        self.oldm = -1.0
        self.g = 0.0
        self.sq = 0.0
        self.alxm = 0.0
        self.iset = 0
        self.gset = 0.0

    def load(self, seed: Seed) -> None:
        """Reload the table if the C ``ran1`` would do so before its next draw.

        That happens when ``seed.value <= 0`` or the table is still empty; loading
        maps a non-negative value to 1 and a negative one to its magnitude.
        """
        idum = seed.value
        if idum > 0 and self.iy:
            return
        idum = 1 if -idum < 1 else -idum
        iv = self.iv
        # Schrage's update in the C equals IA*idum mod IM for 0 <= idum < 2^31.
        for j in range(NTAB + 7, -1, -1):
            idum = IA * idum % IM
            if j < NTAB:
                iv[j] = idum
        self.iy = iv[0]
        seed.value = idum

    def ran1(self, seed: Seed) -> float:
        """Next uniform deviate in (0, 1): the exact float32 value the C returns.

        A positive seed given to an already loaded table continues that table with
        the seed's own value (the C statics are shared by all seed variables).
        """
        self.load(seed)
        idum = seed.value = IA * seed.value % IM
        j = self.iy // NDIV
        iy = self.iy = self.iv[j]
        self.iv[j] = idum
        temp = f32(AM * iy)
        return RNMX_F32 if temp > RNMX else temp
