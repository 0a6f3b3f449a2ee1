"""sin(pi y) and cos(pi y) from polynomials: multiplications and additions only.

Used where the closed-form derivatives of the lattice factor are compiled: fused
into the loop that reads them, four of these cost less than one library sine.
y is reduced to r = y - n, n its nearest whole number (exact), and the sign
(-1)^n applied; on |r| <= 1/2, sin(pi r) = r P(r^2) and cos(pi r) = Q(r^2).

P and Q are Chebyshev-economized Taylor series, computed at import in 40-digit
decimal arithmetic: the series of (f(u) - f(0))/u (u = r^2) to 16 terms,
rewritten in Chebyshev polynomials of 8u - 1 (u in [0, 1/4]), cut to the terms
kept and rewritten in powers of u; f(0) (pi, 1) stays exact. Cut this way, a
series is near-minimax: 9 terms in float64 and 5 in float32 are within 2 and 3
units in the last place of 1 over |r| <= 1/2, where Taylor's own terms would
need 11 and 7.
"""

import decimal
import math

import torch

#: Digits of the arithmetic that makes the coefficients (float64 needs 17).
_DIGITS = 40
#: pi to 50 digits.
_PI = decimal.Decimal("3.14159265358979323846264338327950288419716939937510")
#: Taylor terms of the series: the first left out is below 1e-27 on |r| <= 1/2.
_SERIES_TERMS = 16


def _taylor_series(odd: bool) -> list:
    """Taylor coefficients in powers of u = r^2 of sin(pi r)/r (``odd``) or cos(pi r) (decimals)."""
    return [(-1) ** k * _PI ** (2 * k + odd) / math.factorial(2 * k + odd) for k in range(_SERIES_TERMS)]


def _chebyshev_basis(count: int) -> list:
    """T_k(8u - 1) for k < ``count``, each as integer coefficients in powers of u (T_k has k + 1 of them)."""
    t = [-1, 8]
    basis = [[1], t]
    while len(basis) < count:
        twice_t_times_last = [0] * (len(basis[-1]) + 1)
        for i, coefficient in enumerate(basis[-1]):
            twice_t_times_last[i] += 2 * t[0] * coefficient
            twice_t_times_last[i + 1] += 2 * t[1] * coefficient
        basis.append([value - (basis[-2][i] if i < len(basis[-2]) else 0)
                      for i, value in enumerate(twice_t_times_last)])
    return basis[:count]


def _economized(coefficients: list, kept: int) -> list:
    """The polynomial with ``coefficients`` (powers of u, decimals) cut to its first ``kept`` Chebyshev terms on
    u in [0, 1/4], in powers of u."""
    basis = _chebyshev_basis(len(coefficients))
    remainder = list(coefficients)
    weights = [decimal.Decimal(0)] * len(coefficients)
    for k in reversed(range(len(coefficients))):
        weights[k] = remainder[k] / basis[k][k]
        for i, value in enumerate(basis[k]):
            remainder[i] -= weights[k] * value
    return [sum(weights[k] * basis[k][i] for k in range(i, kept)) for i in range(kept)]


def polynomial_coefficients(terms: int) -> tuple:
    """(P, Q): ``terms`` float coefficients each (2 to 16), in powers of u = r^2, of sin(pi r)/r and cos(pi r)."""
    if not 2 <= terms <= _SERIES_TERMS:
        raise ValueError(f"polynomial terms must be 2 to {_SERIES_TERMS}, not {terms}")

    def economized(odd: bool) -> tuple:
        at_zero, *rest = _taylor_series(odd)
        return (float(at_zero), *(float(c) for c in _economized(rest, terms - 1)))

    with decimal.localcontext() as context:
        context.prec = _DIGITS
        return economized(True), economized(False)


#: (P, Q) per dtype; other dtypes take the float32 ones.
_COEFFICIENTS = {torch.float64: polynomial_coefficients(9)}
_COEFFICIENTS_SHORT = polynomial_coefficients(5)


def sin_cos_pi_half_period(r: torch.Tensor) -> tuple:
    """(sin(pi r), cos(pi r)) for |r| <= 1/2 by Horner's rule."""
    sin_terms, cos_terms = _COEFFICIENTS.get(r.dtype, _COEFFICIENTS_SHORT)
    r2 = r * r
    sin_sum, cos_sum = sin_terms[-1], cos_terms[-1]
    for sin_term, cos_term in zip(sin_terms[-2::-1], cos_terms[-2::-1]):
        sin_sum, cos_sum = sin_sum * r2 + sin_term, cos_sum * r2 + cos_term
    return r * sin_sum, cos_sum


def sin_cos_pi(y: torch.Tensor) -> tuple:
    """(sin(pi y), cos(pi y)) for any y: y = n + r with n whole and |r| <= 1/2 (exact), and the sign (-1)^n."""
    n = torch.round(y).detach()
    sign = 1.0 - 2.0 * (n - 2.0 * torch.floor(0.5 * n))
    sin_r, cos_r = sin_cos_pi_half_period(y - n)
    return sign * sin_r, sign * cos_r
