"""scatter_sum: the C++ kernel (every thread) and the index_add fallback against a float64 reference."""

import os
import shutil
import warnings

import pytest
import torch
import torch.utils.cpp_extension

from torch_sim.functional import scatter_sum as scatter_sum_module
from torch_sim.functional.scatter_sum import scatter_sum

CAN_BUILD = bool(shutil.which("c++") or shutil.which("g++")) and torch.utils.cpp_extension.is_ninja_available()


def _entries(n: int, bins: int, index_dtype, dtype, seed: int = 0):
    """Runs of equal indices (as neighbouring evaluations of one reflection give) with some single entries."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 40, (n,), generator=generator)
    lengths[::7] = 1
    runs = torch.randint(0, bins, (n,), generator=generator)
    index = torch.repeat_interleave(runs, lengths)[:n].to(index_dtype)
    values = torch.randn(n, generator=generator, dtype=torch.float64).to(dtype)
    return index, values


def _reference(index, values, bins):
    return torch.zeros(bins, dtype=torch.float64).index_add(0, index.long(), values.double())


@pytest.fixture
def threads():
    """Set torch's thread count for a test, restored after."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


@pytest.mark.skipif(not CAN_BUILD, reason="no C++ compiler or ninja to build the native kernel")
def test_native_kernel_builds():
    assert scatter_sum_module._native_kernel() is not None


@pytest.mark.parametrize("native", [False, True], ids=["index_add", "native"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("index_dtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("n", [0, 1, 7, 9, 1000, 100_003])
@pytest.mark.parametrize("thread_count", [1, 2, 3])
def test_sums_match_a_float64_reference(native, dtype, index_dtype, n, thread_count, threads):
    threads(thread_count)
    bins = 37
    index, values = _entries(n, bins, index_dtype, dtype)
    with torch.no_grad():
        result = scatter_sum(index, values, bins, native=native)
    assert result.dtype == dtype and result.shape == (bins,)
    reference = _reference(index, values, bins)
    scale = float(values.double().abs().sum()) + 1.0
    tolerance = 1e-13 if dtype == torch.float64 else 1e-6 if native else 1e-5
    assert (result.double() - reference).abs().max() <= tolerance * scale
    if n > 100_000:
        assert (reference != 0).sum() == bins  # every bin hit


@pytest.mark.skipif(not CAN_BUILD, reason="no C++ compiler or ninja to build the native kernel")
def test_native_float32_sums_in_float64():
    """Long runs are summed in float64 and rounded once: as close as float32 can hold."""
    index = torch.zeros(1_000_000, dtype=torch.int32)
    values = torch.full((1_000_000,), 0.1, dtype=torch.float32)
    with torch.no_grad():
        result = scatter_sum(index, values, 2, native=True)
        running_float32_sums = scatter_sum(index, values, 2, native=False)
    assert result[0] == values.double().sum().float()
    assert (running_float32_sums[0] - result[0]).abs() > 1.0


@pytest.mark.skipif(not CAN_BUILD, reason="no C++ compiler or ninja to build the native kernel")
@pytest.mark.parametrize("bad_index", [-1, 5])
def test_native_index_out_of_range_is_an_error(bad_index):
    index = torch.tensor([0, 0, 1, bad_index, 2])
    with torch.no_grad(), pytest.raises(RuntimeError, match=f"index {bad_index} out of range for 5 bins"):
        scatter_sum(index, torch.ones(5), 5, native=True)


@pytest.mark.skipif(not CAN_BUILD, reason="no C++ compiler or ninja to build the native kernel")
def test_native_result_does_not_depend_on_scheduling(threads):
    threads(2)
    index, values = _entries(50_001, 11, torch.int32, torch.float32, seed=3)
    with torch.no_grad():
        results = [scatter_sum(index, values, 11, native=True) for _ in range(5)]
    assert all(torch.equal(results[0], other) for other in results[1:])


def test_with_gradients_recorded_the_sum_is_differentiable():
    """Double backward of the lattice sum differentiates the table gradient: index_add, whatever ``native``."""
    index = torch.tensor([2, 2, 0, 1, 2])
    values = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64, requires_grad=True)
    result = scatter_sum(index, values, 3, native=True)
    assert torch.equal(result.detach(), torch.tensor([3.0, 4.0, 8.0], dtype=torch.float64))
    result.backward(torch.tensor([10.0, 20.0, 30.0], dtype=torch.float64))
    assert torch.equal(values.grad, torch.tensor([30.0, 30.0, 10.0, 20.0, 30.0], dtype=torch.float64))


def test_a_failed_build_warns_once_and_falls_back(monkeypatch):
    def failing_load(*args, **kwargs):
        raise RuntimeError("Ninja is required to load C++ extensions\nmore detail")

    monkeypatch.setattr(torch.utils.cpp_extension, "load", failing_load)
    scatter_sum_module._native_kernel.cache_clear()
    try:
        index, values = _entries(500, 9, torch.int64, torch.float64)
        with torch.no_grad(), pytest.warns(RuntimeWarning, match="could not be built .*Ninja is required"):
            result = scatter_sum(index, values, 9, native=True)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("error")
            again = scatter_sum(index, values, 9, native=True)
    finally:
        scatter_sum_module._native_kernel.cache_clear()
    reference = _reference(index, values, 9)
    assert torch.allclose(result, reference, rtol=1e-13, atol=1e-13) and torch.equal(result, again)


def test_a_stale_build_lock_is_removed_and_a_fresh_one_kept(tmp_path):
    """torch waits forever on the lock of a killed build; one older than any build is removed."""
    lock = tmp_path / "lock"
    lock.touch()
    scatter_sum_module._remove_stale_lock(tmp_path)
    assert lock.exists()
    old = lock.stat().st_mtime - 2 * scatter_sum_module._STALE_LOCK_S
    os.utime(lock, (old, old))
    with pytest.warns(RuntimeWarning, match="stale build lock"):
        scatter_sum_module._remove_stale_lock(tmp_path)
    assert not lock.exists()
    scatter_sum_module._remove_stale_lock(tmp_path)  # no lock: nothing to do


def test_the_build_folder_follows_torch_extensions_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    directory = scatter_sum_module._build_directory()
    assert directory.parent == tmp_path and directory.is_dir()
    assert torch.__version__ in directory.name
