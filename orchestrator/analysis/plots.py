"""What every figure shares (matplotlib, Agg): the style, saving PNG and SVG, and the caption
that names the emulated values the figure's numbers depend on."""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

plt.rcParams.update({"font.size": 11, "axes.titlesize": 12, "figure.titlesize": 13,
                     "svg.fonttype": "none"})


def save(fig, out: str | Path) -> list[Path]:
    """out.png and out.svg (any suffix of `out` is replaced)."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix in (".png", ".svg") else out
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")]
    fig.savefig(paths[0], dpi=150 if fig.get_figheight() < 30 else 80, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def caption(fig, text: str, width: int = 150) -> None:
    """A grey caption under the figure (the emulated values, parameters.caption)."""
    fig.text(0.01, -0.01, "\n".join(textwrap.wrap(text, width)), fontsize=9, va="top",
             ha="left", color="0.25")


def boxes(ax, groups: list[tuple[str, list[float], str]], flagged: list[list[bool]] | None = None,
          reference: list[float | None] | None = None) -> None:
    """Box (quartiles) and points per group (label, values, colour); a flagged point gets a
    black ring (e.g. a repetition in which a retransmission fired); a reference value is a
    black bar."""
    rng = np.random.default_rng(0)           # jitter only; deterministic figures
    for k, (_, vals, color) in enumerate(groups):
        v = np.asarray(vals, dtype=float)         # numbers only: flags align with them
        if v.size:
            ax.boxplot([v], positions=[k], widths=0.55, showfliers=False,
                       medianprops={"color": "black"}, boxprops={"color": color},
                       whiskerprops={"color": color}, capprops={"color": color})
            xs = k + rng.uniform(-0.18, 0.18, v.size)
            ax.scatter(xs, v, s=12, alpha=0.6, color=color, zorder=3)
            if flagged and flagged[k]:
                f = np.asarray(flagged[k][:v.size], dtype=bool)
                if f.any():
                    ax.scatter(xs[f], v[f], s=55, facecolors="none", edgecolors="black",
                               lw=1.1, zorder=4)
        ref = reference[k] if reference else None
        if ref is not None and not (isinstance(ref, float) and np.isnan(ref)):
            ax.plot([k - 0.32, k + 0.32], [ref, ref], color="black", lw=2.5, zorder=4)
    ax.set_xticks(range(len(groups)))
    ax.set_xlim(-0.6, len(groups) - 0.4)
