"""Pictures of a refinement run for a person: images side by side, loss trace, parameter traces (matplotlib, Agg)."""

from typing import Sequence

import numpy as np

from torch_sim.io.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, figure, path: str) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)


def _stage_boundaries(axes, records: Sequence[dict]) -> None:
    for previous, record in zip(records, records[1:]):
        if record["stage"] != previous["stage"]:
            axes.axvline(record["step"] - 0.5, color="0.7", linestyle=":", linewidth=1)


def write_image_comparison(path: str, counts: np.ndarray, expected: np.ndarray, used: np.ndarray,
                           title: str = "") -> None:
    """Observed photons | simulated photons | Pearson residual (n - mu)/sqrt(mu), all [slow, fast].

    Observed and simulated share one asinh stretch; pixels outside the refined set (``used`` False) are grey.
    """
    plt = _pyplot()
    soft = max(float(np.percentile(expected[used], 99.0)) / 10.0, 1e-6) if used.any() else 1.0
    residual = np.where(used, (counts - expected) / np.sqrt(np.maximum(expected, 1e-10)), np.nan)
    limit = max(float(np.nanpercentile(np.abs(residual), 99.5)), 1.0) if used.any() else 1.0
    shown_max = float(np.arcsinh(max(counts[used].max(), expected[used].max()) / soft)) if used.any() else 1.0
    figure, axes = plt.subplots(1, 3, figsize=(16, 5.6), dpi=100)
    panels = (("observed photons", np.where(used, np.arcsinh(counts / soft), np.nan), "gray_r", 0.0, shown_max),
              ("simulated photons (refined)", np.where(used, np.arcsinh(expected / soft), np.nan), "gray_r", 0.0,
               shown_max),
              ("residual (n - mu) / sqrt(mu)", residual, "RdBu_r", -limit, limit))
    for ax, (label, image, cmap, low, high) in zip(axes, panels):
        colormap = plt.get_cmap(cmap).with_extremes(bad="0.85")
        shown = ax.imshow(image, cmap=colormap, vmin=low, vmax=high, origin="upper", interpolation="nearest")
        ax.set_title(label)
        ax.set_xlabel("fast pixel")
        ax.set_ylabel("slow pixel")
        figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04,
                        label=f"asinh(photons / {soft:.3g})" if cmap == "gray_r" else "sigma")
    figure.suptitle(title)
    figure.tight_layout()
    _save(plt, figure, path)


def write_loss_trace(path: str, records: Sequence[dict]) -> None:
    """Loss minus its final value per iteration (log scale), stages marked."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    steps = np.array([r["step"] for r in records])
    loss = np.array([r["loss"] for r in records])
    excess = loss - loss.min()
    ax.semilogy(steps, np.maximum(excess, 1e-6), marker=".", linewidth=1)
    _stage_boundaries(ax, records)
    for stage in dict.fromkeys(r["stage"] for r in records):
        first = next(r["step"] for r in records if r["stage"] == stage)
        ax.annotate(stage, (first, 1.0), xycoords=("data", "axes fraction"), va="top", fontsize=8, rotation=90)
    ax.set_xlabel("iteration (all stages)")
    ax.set_ylabel(f"loss - final loss (final {loss.min():.6g})")
    ax.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    _save(plt, figure, path)


def write_parameter_traces(path: str, records: Sequence[dict], names: Sequence[str], errors: dict) -> None:
    """One panel per refined parameter: its value per iteration, final value +- standard error shaded."""
    plt = _pyplot()
    columns = min(4, len(names))
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.8 * rows), dpi=100, squeeze=False)
    steps = [r["step"] for r in records]
    for ax, name in zip(axes.ravel(), names):
        values = [r["values"][name] for r in records]
        ax.plot(steps, values, marker=".", linewidth=1)
        sigma = errors.get(name)
        if sigma is not None and np.isfinite(sigma):
            ax.axhspan(values[-1] - sigma, values[-1] + sigma, color="tab:orange", alpha=0.3, label="final +- sigma")
        _stage_boundaries(ax, records)
        ax.set_title(name, fontsize=10)
        ax.ticklabel_format(useOffset=False, axis="y")
        ax.tick_params(labelsize=8)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    figure.supxlabel("iteration (all stages)")
    figure.tight_layout()
    _save(plt, figure, path)
