"""Figures of one movement (matplotlib, Agg): a map (APs with their coverage, the path
coloured by serving AP, where each action happened and each MPA phase ended) and the RSSI of
every AP over time with the policy's thresholds. Drawn from a `Timeline`: the simulator's, or
one rebuilt from run records (`Timeline.from_records`), so figures need neither root nor
Mininet.
"""
from __future__ import annotations

from pathlib import Path as FilePath

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

from .policy import (DISCOVER, HANDOVER, PRE_AUTHENTICATE, PRE_CONFIGURE, PolicyParams)  # noqa: E402
from .propagation import LogDistance  # noqa: E402
from .simulate import Timeline  # noqa: E402
from .station import LINK_DOWN, LINK_GOING_DOWN  # noqa: E402

MARKERS = {  # kind: (marker, colour, label); saturated, apart from the APs' soft palette
    LINK_GOING_DOWN: ("v", "#ffffff", "link going down"),
    LINK_DOWN: ("X", "#d7191c", "link down"),
    DISCOVER: ("o", "#555555", "discovery"),
    PRE_AUTHENTICATE: ("s", "#1f3b99", "pre-authentication"),
    PRE_CONFIGURE: ("D", "#0b6e0b", "pre-configuration"),
    HANDOVER: ("*", "#000000", "handover"),
}
PALETTE = plt.get_cmap("Set2").colors           # one per AP: path, coverage, RSSI line


def _thresholds(params: PolicyParams | None) -> list[tuple[str, float]]:
    if params is None:
        return []
    pairs = [("sensitivity", params.sensitivity), ("link going down", params.link_going_down),
             ("discover", params.discovery_threshold),
             ("pre-authenticate", params.pre_authenticate_below),
             ("pre-configure", params.pre_configure_below), ("hand over", params.handover_below)]
    merged: dict[float, list[str]] = {}
    for name, v in pairs:
        if v is not None:
            merged.setdefault(v, []).append(name)
    return [(" = ".join(names), v) for v, names in merged.items()]


def _colours(timeline: Timeline) -> dict[str, str]:
    return {ap.name: PALETTE[i % len(PALETTE)] for i, ap in enumerate(timeline.aps)}


def draw_map(ax, timeline: Timeline, model: LogDistance | None = None) -> None:
    colour = _colours(timeline)
    params = timeline.params
    for ap in timeline.aps:
        x, y = ap.position
        ax.plot([x], [y], "^", ms=11, color=colour[ap.name], mec="k", zorder=5)
        ax.annotate(f"{ap.name}\n{ap.network}" if ap.network else ap.name, (x, y),
                    textcoords="offset points", xytext=(0, 9), ha="center", fontsize=8)
        if model is not None and params is not None:
            for thr, style in ((params.sensitivity, "--"), (params.handover_below, ":")):
                if thr is not None:
                    ax.add_patch(Circle((x, y), model.coverage_radius(thr, ap), fill=False,
                                        ls=style, color=colour[ap.name], alpha=0.6))
    s = timeline.samples
    for a, b in zip(s, s[1:]):
        ax.plot([a.position[0], b.position[0]], [a.position[1], b.position[1]], lw=2.5,
                color=colour.get(a.serving, "0.6"), solid_capstyle="round")
    seen = set()
    for act in timeline.actions:
        marker, c, label = MARKERS[act.kind]
        x, y = timeline.position_at(act.t)
        ax.plot([x], [y], marker, color=c, ms=9 if act.kind == HANDOVER else 7, mec="k",
                mew=0.5, zorder=6, label=None if act.kind in seen else label)
        seen.add(act.kind)
    for t, kind, _ in timeline.completions:
        if kind in (PRE_AUTHENTICATE, PRE_CONFIGURE):
            marker, c, label = MARKERS[kind]
            x, y = timeline.position_at(t)
            key = "end:" + kind
            ax.plot([x], [y], marker, mfc="none", mec=c, ms=10, mew=1.5, zorder=6,
                    label=None if key in seen else label + " done")
            seen.add(key)
    xs = [p.position[0] for p in s] + [ap.position[0] for ap in timeline.aps]
    ys = [p.position[1] for p in s] + [ap.position[1] for ap in timeline.aps]
    half = 0.6 * max(max(xs) - min(xs), max(ys) - min(ys), 1.0)   # a square around the path
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2      # and the APs, not the
    ax.set_xlim(cx - half, cx + half)                               # whole cells
    ax.set_ylim(cy - half, cy + half)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    ax.set_title("map: coverage at sensitivity (--) and handover threshold (:)")


def draw_rssi(ax, timeline: Timeline) -> None:
    colour = _colours(timeline)
    ts = [s.t for s in timeline.samples]
    for ap in timeline.aps:
        ax.plot(ts, [s.rssi[ap.name] for s in timeline.samples], color=colour[ap.name],
                lw=1.4, label=ap.name)
    for name, v in _thresholds(timeline.params):
        ax.axhline(v, color="0.4", ls=":", lw=0.8)
        ax.annotate(name, xy=(1.0, v), xycoords=("axes fraction", "data"), xytext=(3, 0),
                    textcoords="offset points", fontsize=7, color="0.3", va="center")
    for act in timeline.actions:
        marker, c, _ = MARKERS[act.kind]
        ax.axvline(act.t, color="0.2" if c == "#ffffff" else c, lw=0.8, alpha=0.7,
                   ls="-" if act.kind == HANDOVER else "--")
    lo = min(ts)
    for a, b in zip(timeline.samples, timeline.samples[1:] + [None]):
        if b is None or b.serving != a.serving:
            end = a.t if b is None else b.t
            if a.serving in colour:
                ax.axvspan(lo, end, color=colour[a.serving], alpha=0.12, lw=0)
            lo = end
    ax.set_xlabel("time (s)")
    ax.set_ylabel("RSSI (dBm)")
    ax.legend(fontsize=8, loc="upper right", title="AP (band: serving)", title_fontsize=8)
    ax.set_title("received signal; dotted: the policy's thresholds; vertical: actions")


def plot_timeline(timeline: Timeline, out: str | FilePath,
                  model: LogDistance | None = None) -> list[FilePath]:
    """out.png and out.svg: the map beside the RSSI over time."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5),
                                      gridspec_kw={"width_ratios": [1, 1.3]})
    draw_map(left, timeline, model)
    draw_rssi(right, timeline)
    fig.suptitle(f"movement: {len(timeline.handovers)} handovers, "
                 f"{timeline.ping_pongs} ping-pong")
    stem = FilePath(out).with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ext) for ext in (".png", ".svg")]
    for p in paths:
        fig.savefig(p, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return paths
