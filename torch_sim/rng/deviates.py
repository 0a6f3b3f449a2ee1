"""Gaussian and Poisson deviates of nanoBragg.c (``gaussdev``, ``gammln``, ``poidev``), bit for bit.

Every C ``float`` store is emulated with :func:`f32`; ``double`` intermediates stay
Python floats. A product or sum of two float32 values computed in double and
rounded once equals the C float operation, so ``f32(a * b)`` is the C ``a*b``.
"""

import math

from torch_sim.errors import InputError
from torch_sim.rng.c_random import CRandom, Seed, f32

_GAMMLN_COF = (
    76.18009172947146,
    -86.50532032941677,
    24.01409824083091,
    -1.231739572450155,
    0.1208650973866179e-2,
    -0.5395239384953e-5,
)


def exp_neg_f32(xm: float) -> float:
    """The C ``g = exp(-xm)`` stored in a float: inf where that overflows, as in the C."""
    return f32(math.exp(-xm)) if xm > -700.0 else math.inf


def gaussdev(rng: CRandom, seed: Seed) -> float:
    """Normal deviate (mean 0, rms 1) by the polar Box-Muller method; a float32 value.

    Draws pairs: every other call returns the spare deviate kept in ``rng.gset``.
    """
    if rng.iset:
        rng.iset = 0
        return rng.gset
    while True:
        v1 = f32(2.0 * rng.ran1(seed) - 1.0)
        v2 = f32(2.0 * rng.ran1(seed) - 1.0)
        rsq = f32(f32(v1 * v1) + f32(v2 * v2))
        if rsq < 1.0 and rsq != 0.0:
            break
    fac = f32(math.sqrt(-2.0 * math.log(rsq) / rsq))
    rng.gset = f32(v1 * fac)
    rng.iset = 1
    return f32(v2 * fac)


def gammln(xx: float) -> float:
    """ln(Gamma(xx)) for xx > 0 (Lanczos series); takes and returns float32, computes in double."""
    x = f32(xx)
    if not x > 0.0 or math.isinf(x):
        raise InputError(f"gammln needs a finite positive argument, got {xx!r}")
    y = x
    tmp = x + 5.5
    tmp -= (x + 0.5) * math.log(tmp)
    ser = 1.000000000190015
    for cof in _GAMMLN_COF:
        y += 1.0
        ser += cof / y
    return f32(-tmp + math.log(2.5066282746310005 * ser / x))


def poidev(rng: CRandom, xm: float, seed: Seed) -> float:
    """Poisson deviate of mean ``xm`` (photons), as the float32 value the C returns.

    xm > 1e6: Gaussian approximation ``xm + sqrt(xm)*gaussdev`` (not an integer);
    xm < 12: product of uniform deviates against ``exp(-xm)``; otherwise rejection
    from a Lorentzian. Negative ``xm`` gives 0 after one draw, as in the C.
    """
    xm = f32(xm)
    if not math.isfinite(xm):
        raise InputError(f"poidev needs a finite mean, got {xm!r}")
    if xm > 1.0e6:
        return f32(xm + math.sqrt(xm) * gaussdev(rng, seed))
    if xm < 12.0:
        if xm != rng.oldm:
            rng.oldm = xm
            rng.g = exp_neg_f32(xm)
        g = rng.g
        em = 0.0
        t = rng.ran1(seed)
        while t > g:
            em += 1.0
            t = f32(t * rng.ran1(seed))
        return em
    if xm != rng.oldm:
        rng.oldm = xm
        rng.sq = f32(math.sqrt(2.0 * xm))
        rng.alxm = f32(math.log(xm))
        rng.g = f32(f32(xm * rng.alxm) - gammln(xm + 1.0))
    sq, alxm, g = rng.sq, rng.alxm, rng.g
    while True:
        while True:
            y = f32(math.tan(math.pi * rng.ran1(seed)))
            em = f32(f32(sq * y) + xm)
            if not em < 0.0:
                break
        em = float(math.floor(em))
        log_ratio = f32(f32(f32(em * alxm) - gammln(em + 1.0)) - g)
        t = f32(0.9 * (1.0 + f32(y * y)) * math.exp(log_ratio))
        if not rng.ran1(seed) > t:
            return em
