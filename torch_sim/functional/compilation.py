"""torch.compile for the hot functions, with an eager fallback when compilation is impossible."""

import contextlib
import dataclasses
import functools
import importlib.util
import shutil
import warnings

import torch
import torch.utils.checkpoint
from torch._functorch import config as functorch_config
from torch.autograd import forward_ad

#: Inductor options that keep a value many consumers read (a Miller index, a sine) inside the loop that uses
#: it rather than writing it out (by default a value read more than four times is written to memory).
_RECOMPUTE_REUSED_VALUES = {"realize_reads_threshold": 1000, "realize_opcount_threshold": 10000}

#: Inductor option for a function whose backward recomputes its forward: intermediates are written out rather
#: than inlined into every gradient's loop (inlined, generating the geometry's float64 backward takes minutes).
_WRITE_RECOMPUTED_VALUES = {"realize_reads_threshold": 1}

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


def _is_compilation_error(error: Exception) -> bool:
    """Whether ``error`` is torch.compile failing to compile for new inputs (torch._dynamo is imported
    here only, once compilation has run: importing it takes about a second)."""
    from torch._dynamo.exc import FailOnRecompileLimitHit, TorchDynamoException

    return isinstance(error, (TorchDynamoException, FailOnRecompileLimitHit))


def _first_line(error: Exception) -> str:
    return f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"


def _call_signature(value):
    """What a compiled function is specialized on, as far as the calls here differ: the shapes, dtypes, devices
    and grad flags of tensors and every other value, through tuples and dataclasses."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape), value.dtype, value.device, value.requires_grad
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value),) + tuple(_call_signature(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, (tuple, list)):
        return tuple(_call_signature(item) for item in value)
    return value


def _fused_multiply_add_options() -> dict:
    """Inductor's option that lets the C++ compiler contract a * b + c into one fused multiply-add (one rounding
    instead of two; by default inductor keeps them apart, so that compiled values round as eager ones do): a
    string in recent torch, a bool in older releases, absent before them (then there is nothing to set)."""
    from torch._inductor import config as inductor_config

    current = getattr(inductor_config.cpp, "enable_floating_point_contract_flag", None)
    if isinstance(current, bool):
        return {"cpp.enable_floating_point_contract_flag": True}
    if isinstance(current, str):
        return {"cpp.enable_floating_point_contract_flag": "fast"}
    return {}


def _checkpointed(function):
    """``function`` whose backward pass keeps only its inputs (a checkpoint, when gradients are recorded)."""
    def run(*args):
        if torch.is_grad_enabled():
            return torch.utils.checkpoint.checkpoint(function, *args, use_reentrant=False)
        return function(*args)
    return run


def maybe_compiled(function, enabled: bool, recompute_reused_values: bool = False,
                   recompute_in_backward: bool = False, fused_multiply_add: bool = False):
    """``function`` compiled by torch.compile (fused, vectorized loops) when ``enabled``.

    ``recompute_reused_values`` keeps intermediates in registers however often they are read (one pass
    over memory for the lattice sum; the geometry is faster with inductor's defaults).
    ``recompute_in_backward`` keeps only the inputs for the backward pass, which recomputes the rest
    (compiled: AOT autograd's activation memory budget 0; where the call runs eagerly, a checkpoint), so
    the memory held for a backward pass does not grow with the intermediates of each call.
    ``fused_multiply_add`` lets the CPU kernels round a * b + c once (FMA instructions): for functions
    that compute gradients only, since image values keep the roundings of the C program.

    If compilation fails (no compiler, an unsupported platform), a warning says
    so once and every later call runs eagerly: the same numbers, more slowly.
    A function that has compiled before but cannot be compiled for a new call
    (torch's limit on recompilations for new shapes, reached by a process that
    renders many differently sized models) runs that call eagerly, with a
    warning once. Under forward-mode AD or a torch.func transform the call
    runs eagerly too.
    """
    eager = _checkpointed(function) if recompute_in_backward else function
    if not enabled or _COMPILE_FAILURE:
        return eager
    key = (function, recompute_reused_values, recompute_in_backward, fused_multiply_add)
    if key not in _COMPILED:
        options = dict(_RECOMPUTE_REUSED_VALUES if recompute_reused_values
                       else _WRITE_RECOMPUTED_VALUES if recompute_in_backward else {},
                       **(_fused_multiply_add_options() if fused_multiply_add else {}))
        compiled = torch.compile(function, dynamic=False, fullgraph=True, options=options or None)
        partitioning = (functools.partial(functorch_config.patch, activation_memory_budget=0.0)
                        if recompute_in_backward else contextlib.nullcontext)
        built, not_compilable = [], set()

        def run(*args):
            if _derivative_transform_active() or _COMPILE_FAILURE:
                return eager(*args)
            # calls like one that could not be compiled go straight to the eager function (torch would try,
            # fail and log again for every chunk)
            signature = (torch.is_grad_enabled(), _call_signature(args)) if not_compilable else None
            if signature in not_compilable:
                return eager(*args)
            try:
                with partitioning():
                    result = compiled(*args)
            except Exception as error:
                if not built:  # the first compilation failed: nothing will compile here
                    _COMPILE_FAILURE.append(error)
                    warnings.warn(f"torch.compile failed ({_first_line(error)}); rendering without compilation",
                                  RuntimeWarning, stacklevel=2)
                elif not _is_compilation_error(error):
                    raise  # not a compilation problem (e.g. checkpoint's early stop of a recomputation)
                else:
                    if not not_compilable:
                        warnings.warn(f"torch.compile could not compile {function.__name__} for new inputs "
                                      f"({_first_line(error)}); such calls run without compilation",
                                      RuntimeWarning, stacklevel=2)
                    not_compilable.add((torch.is_grad_enabled(), _call_signature(args)))
                return eager(*args)
            built.append(True)
            return result

        _COMPILED[key] = run
    return _COMPILED[key]
