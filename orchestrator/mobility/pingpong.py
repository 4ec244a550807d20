"""RFC 6252 C.1: the ping-pong a handover policy's hysteresis margin and dwell timer avoid,
and what they cost, by pure simulation over the propagation model (seeded, no network).

    "In order to avoid the ping-pong effect, some additional parameters are employed by the
    decision algorithm, such as hysteresis margin, dwell timers, and averaging window."

The scene (`Border`): two APs of two networks `spacing` m apart; the MN goes back and forth
across the border between them (`back_and_forth`, `legs` crossings at `speed`); log-distance
path loss with correlated log-normal shadowing (`sigma`, `decorrelation`), one field per
seed: a seed is one street. For each (hysteresis, dwell, seed) the MN's own policy
(`mobility/policy.py`, the code the agents run) decides on the relative condition only
(`handover_below` None), and `run_one` counts:

- handovers and ping-pongs (a handover back to the AP the previous one left within the
  policy's `ping_pong_window`);
- `weaker_s`: seconds the MN stayed with an AP more than `WEAKER_MARGIN` dB weaker than the
  strongest it heard (the cost of a margin or a timer: the signal it gives up).

`sweep` runs the grid; `summary` averages over seeds, per crossing of the border, and says
what share of the no-hysteresis, no-dwell ping-pongs each setting avoids; `figure` draws
both (matplotlib, Agg). `python -m orchestrator.mobility.pingpong --out DIR` (`make
c1-sweep`) writes pingpong.csv, pingpong.md and pingpong.png/.svg. The emulated network
runs four of these settings in `make c1-pingpong` and makes the same decisions.
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

from .geometry import back_and_forth
from .policy import PolicyParams
from .propagation import AccessPoint, LogDistance
from .simulate import simulate

WEAKER_MARGIN = 3.0          # dB below the strongest AP heard: "on a weaker AP"
HYSTERESES = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0)
DWELLS = (0.0, 0.25, 0.5, 1.0, 2.0)
SEEDS = tuple(range(1, 11))


@dataclass(frozen=True)
class Border:
    """The scene: APs at 0 and `spacing` m, back and forth between `between` (m) on the line
    joining them. Defaults: docs/movement.md's table (a 100 m street, 40-60 m, 1 m/s)."""
    spacing: float = 100.0
    between: tuple[float, float] = (40.0, 60.0)
    speed: float = 1.0
    legs: int = 6
    exponent: float = 3.0
    sigma: float = 4.0
    decorrelation: float = 10.0
    interval: float = 0.1            # s between scans
    ping_pong_window: float = 5.0

    def aps(self) -> list[AccessPoint]:
        return [AccessPoint("ap-b", (0.0, 0.0), "net-b"),
                AccessPoint("ap-a", (self.spacing, 0.0), "net-a")]

    def path(self):
        return back_and_forth((self.between[0], 0.0), (self.between[1], 0.0), self.speed,
                              self.legs)

    def model(self, seed: int) -> LogDistance:
        return LogDistance(exponent=self.exponent, shadowing_sigma=self.sigma,
                           decorrelation=self.decorrelation, seed=seed)

    @property
    def crossings(self) -> int:
        """Times the path crosses the midpoint (each leg once, if it lies between)."""
        mid, (a, b) = self.spacing / 2, self.between
        return self.legs if min(a, b) < mid < max(a, b) else 0


def run_one(border: Border, hysteresis: float, dwell: float, seed: int) -> dict:
    """One street (`seed`), one setting: handovers, ping-pongs, seconds on a weaker AP."""
    params = PolicyParams(hysteresis=hysteresis, dwell=dwell, handover_below=None,
                          ping_pong_window=border.ping_pong_window)
    path = border.path()
    tl = simulate(path, border.aps(), border.model(seed), params, start_ap="ap-b",
                  interval=border.interval)
    weaker = 0.0
    for a, b in zip(tl.samples, tl.samples[1:]):
        serving = a.rssi.get(a.serving, -math.inf) if a.serving else -math.inf
        if serving < max(a.rssi.values()) - WEAKER_MARGIN:
            weaker += b.t - a.t
    return {"hysteresis_db": hysteresis, "dwell_s": dwell, "seed": seed,
            "handovers": len(tl.handovers), "ping_pongs": tl.ping_pongs,
            "crossings": border.crossings, "weaker_s": round(weaker, 6),
            "duration_s": path.duration}


def sweep(hystereses: Iterable[float] = HYSTERESES, dwells: Iterable[float] = DWELLS,
          seeds: Iterable[int] = SEEDS, border: Border = Border()) -> list[dict]:
    """Every (hysteresis, dwell, seed), in that order."""
    dwells, seeds = list(dwells), list(seeds)
    return [run_one(border, h, d, s) for h in hystereses for d in dwells for s in seeds]


def summary(rows: Sequence[dict]) -> list[dict]:
    """Per (hysteresis, dwell): totals over the seeds, handovers and ping-pongs per border
    crossing, the share of the (0 dB, 0 s) ping-pongs avoided, the share of time on a
    weaker AP."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["hysteresis_db"], r["dwell_s"]), []).append(r)
    base = groups.get((0.0, 0.0))
    base_pp = sum(r["ping_pongs"] for r in base) / len(base) if base else math.nan
    out = []
    for (h, d), g in groups.items():
        crossings = sum(r["crossings"] for r in g)
        pp = sum(r["ping_pongs"] for r in g)
        mean_pp = pp / len(g)
        out.append({"hysteresis_db": h, "dwell_s": d, "seeds": len(g),
                    "handovers": sum(r["handovers"] for r in g), "ping_pongs": pp,
                    "crossings": crossings,
                    "handovers_per_crossing": sum(r["handovers"] for r in g) / crossings
                    if crossings else math.nan,
                    "ping_pongs_per_crossing": pp / crossings if crossings else math.nan,
                    "ping_pongs_avoided": (1 - mean_pp / base_pp) if base_pp else math.nan,
                    "weaker_share": sum(r["weaker_s"] for r in g)
                    / sum(r["duration_s"] for r in g)})
    return out


def markdown(table: Sequence[dict], border: Border) -> list[str]:
    hs = sorted({r["hysteresis_db"] for r in table})
    ds = sorted({r["dwell_s"] for r in table})
    cell = {(r["hysteresis_db"], r["dwell_s"]): r for r in table}
    seeds = next(iter(table))["seeds"] if table else 0
    out = [f"C.1 ping-pong by simulation: APs {border.spacing:g} m apart, back and forth "
           f"{border.between[0]:g}-{border.between[1]:g} m at {border.speed:g} m/s, "
           f"{border.legs} crossings, path-loss exponent {border.exponent:g}, shadowing "
           f"sigma {border.sigma:g} dB decorrelated over {border.decorrelation:g} m, "
           f"{seeds} seeds (streets), a scan every {border.interval * 1e3:g} ms; "
           f"ping-pong: back to the AP left within {border.ping_pong_window:g} s.", "",
           "Ping-pongs per border crossing (share of the 0 dB / 0 s ping-pongs avoided) "
           f"[share of time on an AP > {WEAKER_MARGIN:g} dB weaker than the strongest]:", "",
           "| hysteresis \\ dwell | " + " | ".join(f"{d:g} s" for d in ds) + " |",
           "|---|" + "---|" * len(ds)]
    for h in hs:
        row = [f"{cell[(h, d)]['ping_pongs_per_crossing']:.2f} "
               f"({cell[(h, d)]['ping_pongs_avoided']:.0%}) "
               f"[{cell[(h, d)]['weaker_share']:.0%}]" if (h, d) in cell else "--" for d in ds]
        out.append(f"| {h:g} dB | " + " | ".join(row) + " |")
    return out


def figure(table: Sequence[dict], out: Path, border: Border) -> list[Path]:
    """Ping-pongs per crossing and the time on a weaker AP against the hysteresis margin,
    one line per dwell timer."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for d in sorted({r["dwell_s"] for r in table}):
        rows = sorted((r for r in table if r["dwell_s"] == d), key=lambda r: r["hysteresis_db"])
        hs = [r["hysteresis_db"] for r in rows]
        ax1.plot(hs, [r["ping_pongs_per_crossing"] for r in rows], "o-", label=f"dwell {d:g} s")
        ax2.plot(hs, [100 * r["weaker_share"] for r in rows], "o-", label=f"dwell {d:g} s")
    ax1.set_ylabel("ping-pongs per border crossing")
    ax2.set_ylabel(f"time on an AP > {WEAKER_MARGIN:g} dB weaker than the best (%)")
    for ax in (ax1, ax2):
        ax.set_xlabel("hysteresis margin (dB)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_title("the ping-pong avoided", fontsize=11)
    ax2.set_title("what it costs", fontsize=11)
    fig.suptitle(f"RFC 6252 C.1: hysteresis and dwell at a border (simulation, "
                 f"sigma {border.sigma:g} dB, {border.legs} crossings x "
                 f"{next(iter(table))['seeds']} seeds)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_suffix(".png"), out.with_suffix(".svg")]
    for p in paths:
        fig.savefig(p, dpi=130)
    plt.close(fig)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m orchestrator.mobility.pingpong",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="results/c1-sweep", help="directory for csv, md, figure")
    ap.add_argument("--seeds", type=int, default=len(SEEDS), help="streets (seeds 1..N)")
    ap.add_argument("--sigma", type=float, default=Border.sigma, help="shadowing sigma (dB)")
    args = ap.parse_args(argv)
    if not 1 <= args.seeds <= 1000 or not 0 <= args.sigma <= 20:
        ap.error("--seeds is 1 to 1000, --sigma 0 to 20 dB")
    border = replace(Border(), sigma=args.sigma)
    rows = sweep(HYSTERESES, DWELLS, range(1, args.seeds + 1), border)
    table = summary(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import csv
    with open(out / "pingpong.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    md = markdown(table, border)
    (out / "pingpong.md").write_text("\n".join(md) + "\n\nScene: " + repr(asdict(border)) + "\n")
    figure(table, out / "pingpong", border)
    print("\n".join(md))
    print(f"\nwritten: {out}/pingpong.csv, pingpong.md, pingpong.png, pingpong.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
