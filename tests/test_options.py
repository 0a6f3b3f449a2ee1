"""Behaviours outside the golden cases: interpolation fallback, phi = 0 steps, chunked backward,
float32, source weights, devices, and the compiled kernels through the whole model."""


import numpy as np
import pytest
import torch
from torch.autograd import forward_ad
from torch.func import functional_call

import torch_sim
from golden import CASES, case_args, image_agreement, stage_inputs
from torch_sim.errors import InputError
from torch_sim.functional.crystal_orientation import phi_angles
from torch_sim.modules.simulator import AUTO_COMPILE_EVALUATIONS

CELL = ["-cell", "30", "32", "34", "88", "92", "95", "-misset", "3", "4", "5"]
#: N = 2 selects tricubic interpolation; a table of |h|,|k|,|l| <= 3 is left at moderate angles.
FALLBACK = CELL + ["-hkl", "small.hkl", "-N", "2", "-lambda", "1.0", "-distance", "60", "-detpixels", "48",
                   "-pixel", "0.5", "-oversample", "1"]


@pytest.fixture
def small_table(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    with open(tmp_path / "small.hkl", "w") as handle:
        for h in range(-3, 4):
            for k in range(-3, 4):
                for l in range(-3, 4):
                    handle.write(f"{h} {k} {l} {rng.uniform(20, 200):.3f}\n")
    monkeypatch.chdir(tmp_path)


def _render(argv, **kwargs):
    model = torch_sim.from_nanobragg_args(argv, **kwargs)
    with torch.no_grad():
        return model, model()


def test_interpolation_fallback_switches_off_for_the_rest_of_the_image(small_table):
    """C order: interpolation until the first out-of-range stencil, nearest reflections after it.

    (Checked against nanoBragg.c run single-threaded: identical float image and warning.)
    """
    model, c_order = _render(FALLBACK)
    warning = model.last_render.warning
    assert warning.startswith("WARNING: out of range for three point interpolation: h,k,l,h0,k0,l0: ")
    _, local = _render(FALLBACK + ["-interpolation_fallback", "local"])
    _, nearest = _render(FALLBACK + ["-nointerpolate"])
    flat_c, flat_local, flat_nearest = (x.reshape(-1) for x in (c_order, local, nearest))
    same = lambda a, b: torch.isclose(a, b, rtol=1e-12, atol=0)
    first = int(torch.nonzero(~same(flat_c, flat_local))[0])
    assert first > 0
    assert same(flat_c[:first], flat_local[:first]).all()
    assert same(flat_c[first:], flat_nearest[first:]).all()
    assert not same(flat_local, flat_nearest).all()


def test_local_interpolation_fallback_uses_nearest_only_out_of_range(small_table):
    model, local = _render(FALLBACK + ["-interpolation_fallback", "local"])
    assert model.last_render.warning is None
    _, nearest = _render(FALLBACK + ["-nointerpolate"])
    close_to_beam = local[20:28, 20:28]
    assert not torch.equal(close_to_beam, nearest[20:28, 20:28])


def test_phi_zero_step_reuses_the_previous_rotation():
    phi_start, step = torch.tensor(0.0, dtype=torch.float64), torch.tensor(0.01, dtype=torch.float64)
    assert phi_angles(phi_start, step, 3).tolist() == [0.02, 0.01, 0.02]
    assert phi_angles(phi_start, step, 3, zero_rotates=True).tolist() == [0.0, 0.01, 0.02]
    middle = phi_angles(torch.tensor(-0.01, dtype=torch.float64), step, 3)
    assert middle.tolist() == [-0.01, -0.01, 0.01]
    assert phi_angles(phi_start, step, 1).tolist() == [0.0]


def test_phi_zero_rotates_option_changes_the_image():
    argv = CELL + ["-default_F", "50", "-N", "4", "-detpixels", "32", "-pixel", "0.4", "-distance", "60",
                   "-phi", "0", "-osc", "1", "-phisteps", "2", "-oversample", "1"]
    _, quirk = _render(argv)
    _, rotating = _render(argv + ["-phi_zero_rotates"])
    _, last_step_only = _render(CELL + ["-default_F", "50", "-N", "4", "-detpixels", "32", "-pixel", "0.4",
                                        "-distance", "60", "-phi", "0.5", "-oversample", "1"])
    assert torch.allclose(quirk, last_step_only, rtol=1e-12)
    assert not torch.allclose(quirk, rotating, rtol=1e-6)


def test_chunked_checkpointed_backward_matches_one_chunk():
    argv = CELL + ["-default_F", "50", "-N", "4", "-detpixels", "24", "-pixel", "0.5", "-distance", "60",
                   "-mosaic", "0.5", "-mosaic_domains", "3", "-oversample", "2", "-Xbeam", "8", "-Ybeam", "9"]
    gradients = []
    for budget in (512.0, 0.02):
        model = torch_sim.from_nanobragg_args(argv, memory_budget_mb=budget)
        for value in model.params.values():
            value.requires_grad_(True)
        (model() ** 2).sum().backward()
        gradients.append({name: value.grad for name, value in model.params.items()})
    assert torch_sim.from_nanobragg_args(argv, memory_budget_mb=0.02).chunk_pixels() < 24 * 24
    for name, gradient in gradients[0].items():
        assert torch.allclose(gradient, gradients[1][name], rtol=1e-10, atol=0), name


@pytest.mark.parametrize("name", [n for n in CASES if n != "realistic_1024"])
def test_float32_agrees_with_float64(name, tmp_path, monkeypatch):
    """float32 evaluates the lattice factor on the fractional index: correlation >= 0.9999 with float64."""
    stage_inputs(name, tmp_path)
    monkeypatch.chdir(tmp_path)
    _, image64 = _render(case_args(name))
    _, image32 = _render(case_args(name), dtype=torch.float32)
    assert image32.dtype == torch.float32
    correlation, _ = image_agreement(image32.double().numpy(), image64.numpy())
    assert correlation >= 0.9999


def test_source_weights_option(tmp_path, monkeypatch):
    stage_inputs("sourcefile", tmp_path)
    monkeypatch.chdir(tmp_path)
    # -nopolar: the C applies the first source's polarization factor to every source of a pixel
    argv = case_args("sourcefile") + ["-nopolar"]
    model, unweighted = _render(argv)
    _, weighted = _render(argv + ["-source_weights"])
    weights = model.config.beam.source_file.weights
    assert weights.tolist() == [1.0, 0.5, 2.0]
    single = []
    for k in range(3):
        rows = np.loadtxt("sources.txt")[k:k + 1]
        np.savetxt(f"one_{k}.txt", rows)
        _, image = _render([("one_%d.txt" % k) if a == "sources.txt" else a for a in argv])
        single.append(image)
    # each single-source image is normalised by 1 source instead of 3
    assert torch.allclose(unweighted, sum(single) / 3, rtol=1e-10)
    assert torch.allclose(weighted, sum(w * image for w, image in zip(weights, single)) / 3, rtol=1e-10)


def test_cpu_device_and_missing_cuda():
    argv = CELL + ["-default_F", "50", "-N", "4", "-detpixels", "8"]
    _, image = _render(argv, device=torch.device("cpu"))
    assert image.device.type == "cpu"
    from torch_sim.cli.simulate import torch_device
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            torch_device("cuda")
    with pytest.raises(InputError, match="unknown device"):
        torch_device("tpu9")


@pytest.mark.slow
def test_compiled_model_matches_eager():
    argv = CELL + ["-default_F", "50", "-N", "4", "-detpixels", "20", "-pixel", "0.5", "-distance", "60",
                   "-mosaic", "0.5", "-mosaic_domains", "3", "-Xbeam", "8", "-Ybeam", "9"]
    eager = torch_sim.from_nanobragg_args(argv, memory_budget_mb=0.05)
    compiled = torch_sim.from_nanobragg_args(argv, memory_budget_mb=0.05, compile=True)
    assert eager.chunk_pixels() < 400 and 400 % eager.chunk_pixels() != 0  # exercises the padded last chunk
    images, gradients, tangents = [], [], []
    for model in (eager, compiled):
        model.params["distance"].requires_grad_(True)
        image = model()
        (gradient,) = torch.autograd.grad(image.sum(), model.params["distance"])
        images.append(image.detach())
        gradients.append(gradient)
        with forward_ad.dual_level():  # forward mode reaches the detector geometry too (run eagerly)
            distance = model.params["distance"].detach()
            dual = forward_ad.make_dual(distance, torch.ones_like(distance))
            tangents.append(forward_ad.unpack_dual(functional_call(model, {"detector.params.distance": dual}, ())).tangent)
    assert torch.allclose(images[0], images[1], rtol=1e-12)
    assert torch.allclose(gradients[0], gradients[1], rtol=1e-10)
    assert tangents[0].abs().sum() > 0 and torch.allclose(tangents[0], tangents[1], rtol=1e-10)
    assert tangents[0].sum() == pytest.approx(float(gradients[0]), rel=1e-10)
    assert compiled.last_render.solid_angle_sum == pytest.approx(eager.last_render.solid_angle_sum, rel=1e-12)


@pytest.mark.slow
def test_compiled_geometry_keeps_only_its_inputs_and_matches_eager():
    """The compiled per-subpixel geometry saves nothing per layer or source for its backward pass (it
    recomputes; its inputs are the subpixel coordinates), and its values and gradients (beam, detector,
    polarization, a thick sensor, two sources and a dmin cut) equal the eager ones."""
    from torch_sim.functional.compilation import maybe_compiled
    from torch_sim.functional.pixel_kernel import pixel_geometry, subpixel_coordinates

    argv = CELL + ["-default_F", "50", "-N", "4", "-detpixels", "16", "-pixel", "0.5", "-distance", "60",
                   "-oversample", "2", "-detector_thick", "0.3", "-detector_abs", "300", "-detector_thicksteps", "2",
                   "-dispersion", "10", "-dispsteps", "2", "-dmin", "15", "-Xbeam", "3", "-Ybeam", "4",
                   "-detector_rotx", "5", "-twotheta", "20"]
    model = torch_sim.from_nanobragg_args(argv)
    leaves = [value for value in model.params.values() if value.is_floating_point()]
    for leaf in leaves:
        leaf.requires_grad_(True)
    index = model.pixel_index
    fast, slow = subpixel_coordinates(index % 16, index // 16, 2, torch.float64)
    results = []
    for compiled in (False, True):
        setup = model.scattering_setup()[0]
        geometry = maybe_compiled(pixel_geometry, compiled, recompute_in_backward=True)
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
            fields = geometry(setup, fast, slow, False)
        position, weight, omega, polar, capture = (fields[0].reshape(3, -1), fields[7], fields[8], fields[9],
                                                   fields[10])
        assert bool((weight == 0).any()) and bool((weight == 1).any())  # the dmin cut applies somewhere
        loss = ((position * torch.linspace(0.5, 1.5, position.shape[1], dtype=position.dtype)).sum()
                + (omega * polar * capture).sum() * 1e6)
        gradients = torch.autograd.grad(loss, leaves, allow_unused=True)
        results.append((position.detach(), omega.detach(), polar.detach(), capture.detach(), gradients))
        if compiled:
            assert max(saved) <= fast.numel()  # the subpixel coordinates at most: nothing per layer or source
    (*eager_values, eager_gradients), (*compiled_values, compiled_gradients) = results
    for eager, compiled in zip(eager_values, compiled_values):
        assert torch.allclose(eager, compiled, rtol=1e-12, atol=0.0)
    assert sum(g is not None and bool(g.abs().sum() > 0) for g in eager_gradients) >= 5
    for eager, compiled in zip(eager_gradients, compiled_gradients):
        assert (eager is None) == (compiled is None)
        if eager is not None:
            assert torch.allclose(eager, compiled, rtol=1e-9, atol=1e-12 * float(eager.abs().max()))


def _multiply_add(a, b, c):
    return a * b + c


@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
                    reason="needs a CPU with fused multiply-add instructions")
def test_only_the_gradient_kernels_round_multiply_adds_once():
    """a * b + c with a * b = 1 - 2^-60 and c = -1: rounded twice, as eagerly and in the image's kernels, it is
    0; compiled with ``fused_multiply_add`` (the kernels that compute only gradients) it is rounded once,
    -2^-60."""
    from torch_sim.functional.compilation import _fused_multiply_add_options, maybe_compiled

    if not _fused_multiply_add_options():
        pytest.skip("this torch has no inductor option for fused multiply-adds")
    a = torch.full((37,), 1.0 + 2.0**-30, dtype=torch.float64)
    b, c = 2.0 - a, torch.full_like(a, -1.0)
    assert torch.equal(_multiply_add(a, b, c), torch.zeros_like(a))
    assert torch.equal(maybe_compiled(_multiply_add, True)(a, b, c), torch.zeros_like(a))
    assert torch.equal(maybe_compiled(_multiply_add, True, fused_multiply_add=True)(a, b, c),
                       torch.full_like(a, -(2.0**-60)))


def test_compilation_failure_falls_back_to_eager(monkeypatch):
    """If torch.compile cannot build the kernels, the render warns once and runs eagerly (same numbers)."""
    from torch_sim.functional import compilation as module

    def broken_compile(function, **kwargs):
        def fail(*args):
            raise RuntimeError("no C++ compiler")
        return fail

    monkeypatch.setattr(module.torch, "compile", broken_compile)
    monkeypatch.setattr(module, "_COMPILED", {})
    monkeypatch.setattr(module, "_COMPILE_FAILURE", [])
    argv = CELL + ["-default_F", "50", "-N", "4", "-detpixels", "12", "-pixel", "0.5", "-distance", "60",
                   "-Xbeam", "8", "-Ybeam", "9"]
    _, eager = _render(argv, compile=False)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*no C\\+\\+ compiler"):
        _, fallback = _render(argv, compile=True)
    assert torch.equal(eager, fallback)


def test_new_shapes_that_cannot_be_compiled_run_eagerly(monkeypatch):
    """Past torch's recompilation limit (many differently sized models in one process), a call with new
    shapes warns once and runs eagerly, and later calls like it are not offered to torch.compile again (each
    attempt fails and logs); shapes compiled before stay compiled."""
    from torch._dynamo.exc import FailOnRecompileLimitHit

    from torch_sim.functional import compilation as module

    calls = {"compiled": 0, "refused": 0}

    def limited_compile(function, **kwargs):
        shapes = set()

        def run(*args):
            key = tuple(tuple(a.shape) for a in args if isinstance(a, torch.Tensor))
            if shapes and key not in shapes:
                calls["refused"] += 1
                raise FailOnRecompileLimitHit("recompile limit reached")
            shapes.add(key)
            calls["compiled"] += 1
            return function(*args)
        return run

    monkeypatch.setattr(module.torch, "compile", limited_compile)
    monkeypatch.setattr(module, "_COMPILED", {})
    monkeypatch.setattr(module, "_COMPILE_FAILURE", [])
    small = CELL + ["-default_F", "50", "-N", "4", "-detpixels", "12", "-pixel", "0.5", "-distance", "60"]
    large = _replace_value(small, "-detpixels", "14")
    _, first = _render(small, compile=True)
    with pytest.warns(RuntimeWarning, match="could not compile .* for new inputs .*recompile limit"):
        _, other = _render(large, compile=True)
    assert torch.equal(other, _render(large, compile=False)[1])
    refused = calls["refused"]
    _, other_again = _render(large, compile=True)
    assert calls["refused"] == refused and torch.equal(other_again, other)
    before = calls["compiled"]
    _, again = _render(small, compile=True)
    assert calls["compiled"] > before and torch.equal(again, first) and not module._COMPILE_FAILURE


def _replace_value(argv, flag, value):
    index = argv.index(flag)
    return argv[:index + 1] + [value] + argv[index + 2:]


def test_automatic_compilation_only_for_large_renders():
    small = torch_sim.from_nanobragg_args(CELL + ["-default_F", "50", "-detpixels", "16"])
    assert not small.compiled_kernels and small.evaluations() < AUTO_COMPILE_EVALUATIONS
    forced = torch_sim.from_nanobragg_args(CELL + ["-default_F", "50", "-detpixels", "16"], compile=True)
    assert forced.compiled_kernels
