"""torch.compile for the hot functions, with an eager fallback when compilation is impossible."""

import importlib.util
import shutil
import warnings

import torch
from torch.autograd import forward_ad

_COMPILED = {}
_COMPILE_FAILURE = []


def compiler_available(device: torch.device) -> bool:
    """Whether torch.compile can build kernels here (a C++ compiler for CPU, Triton for GPU)."""
    if device.type == "cuda":
        return importlib.util.find_spec("triton") is not None
    return any(shutil.which(name) for name in ("g++", "c++", "clang++"))


def _derivative_transform_active() -> bool:
    """Whether forward-mode dual tensors or a torch.func transform may reach the function: compiled
    kernels would silently drop their tangents, so those calls run eagerly."""
    return forward_ad._current_level >= 0 or torch._C._functorch.peek_interpreter_stack() is not None


def maybe_compiled(function, enabled: bool):
    """``function`` compiled by torch.compile (fused, vectorized loops) when ``enabled``.

    If compilation fails (no compiler, an unsupported platform), a warning says
    so once and every later call runs eagerly: the same numbers, more slowly.
    Under forward-mode AD or a torch.func transform the call runs eagerly too.
    """
    if not enabled or _COMPILE_FAILURE:
        return function
    if function not in _COMPILED:
        compiled = torch.compile(function, dynamic=False, fullgraph=True)
        built = []

        def run(*args):
            if _derivative_transform_active():
                return function(*args)
            if built:
                return compiled(*args)
            if _COMPILE_FAILURE:
                return function(*args)
            try:  # compilation problems surface at the first call
                result = compiled(*args)
            except Exception as error:
                _COMPILE_FAILURE.append(error)
                first_line = (str(error).splitlines() or [""])[0][:200]
                warnings.warn(f"torch.compile failed ({type(error).__name__}: {first_line}); "
                              "rendering without compilation", RuntimeWarning, stacklevel=2)
                return function(*args)
            built.append(True)
            return result

        _COMPILED[function] = run
    return _COMPILED[function]
