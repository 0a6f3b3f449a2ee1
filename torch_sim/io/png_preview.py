"""PNG preview of a detector image for a person to look at (matplotlib)."""

import numpy as np

from torch_sim.io.atomic import atomic_path


def write_png_preview(path, image: np.ndarray, title: str = "") -> None:
    """Save ``image`` [slow, fast] as a PNG with an asinh stretch and a colour bar (atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = np.asarray(image, dtype=np.float64)
    soft = max(np.percentile(image, 99.0) / 10.0, 1e-12)
    figure, axes = plt.subplots(figsize=(6.4, 5.6), dpi=120)
    shown = axes.imshow(np.arcsinh(image / soft), cmap="gray_r", origin="upper", interpolation="nearest")
    axes.set_xlabel("fast pixel")
    axes.set_ylabel("slow pixel")
    axes.set_title(title)
    figure.colorbar(shown, ax=axes, label=f"asinh(photons / {soft:.3g})")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    plt.close(figure)
