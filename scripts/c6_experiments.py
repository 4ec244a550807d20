"""Writes experiments/c6.yaml and experiments/c6-long.yaml (RFC 6252 C.6: cell size x
velocity x MPA depth): one scenario per depth and speed, one configuration per cell size
(AP-A at 40k m, transmit power 20 + 30 log10(k) dBm). Run from the repository's root:
`python3 scripts/c6_experiments.py`; edit CELLS, SPEEDS, REPS here rather than the YAML."""
HEAD_C6 = """# RFC 6252 Appendix C.6: MPA success against the MN's velocity and the cell size, for the
# two MPA depths, "2RTT + Tpsk < D/v" (pre-authentication only) and "2RTT + Tpsk + Tconf <
# D/v" (with pre-configuration). topologies/c6-corridor.yaml: AP-B at 0 m, AP-A (network A,
# with the PAA) 40 m on. The MN's policy starts MPA when AP-B falls below -55 dBm and hands
# over once AP-A is 2 dB stronger and AP-B below -60 dBm; it walks across the border from
# 0.3 to 0.6 of the way from AP-B to AP-A (`across`: the path follows the APs).
#
# Cell size (C.6's D): each configuration scales the cell by k, AP-A at 40k m and the APs'
# transmit power 20 + 30 log10(k) dBm (path-loss exponent 3: every radius scales by k), so
# that MPA starts at 14.7k m and must be done at 21.6k m: D ~ 6.9k m, measured per run.
#   k = 0.5: AP spacing 20 m, D ~ 3.4 m;  k = 1: 40 m, D ~ 6.9 m;  k = 2: 80 m, D ~ 13.8 m
# A run succeeds when its handover needed no EAP (PSK_ap installed by the PAA), and with
# pre-configuration when it was MPA's handover into the nCoA. The reproduction (`make c6`,
# analysis/reproductions/c6.py) draws the success rate against the velocity, and against
# v/D with every cell size on one axis, beside the limit D / (Tdisc + Tauth + Tpsk (+ Tconf))
# from the phase times measured in the same run, per cell size; and the RFC's worked
# example recomputed.
# Short by default (make reproduce): 3 cell sizes x 6 speeds x 2 depths, 1 repetition
# (36 movements); `make c6 REPETITIONS=3` for more,
# `make c6 C6_SWEEP=long` for the long sweep (experiments/c6-long.yaml: 5 cell sizes,
# 9 speeds, 2 repetitions).
name: c6
"""
HEAD_LONG = """# RFC 6252 Appendix C.6, the long sweep of experiments/c6.yaml (read its header): 5 cell
# sizes (AP spacing 20-120 m, D ~ 3.4-20.7 m) x 9 speeds x 2 MPA depths x 2 repetitions
# (180 movements, ~25 minutes here): `make c6 C6_SWEEP=long`. Not in `make reproduce`.
name: c6-long
"""
CELLS = {"c6": [0.5, 1, 2], "c6-long": [0.5, 0.75, 1, 2, 3]}
SPEEDS = {"c6": [3, 6, 12, 25, 50, 100], "c6-long": [2, 4, 7, 12, 20, 30, 45, 70, 100]}
REPS = {"c6": 1, "c6-long": 2}
import math
def conf(k):
    spacing = 40 * k
    name = f"cell-{spacing:g}m"
    if k == 1:
        return f"  {name}: {{topology: ../topologies/c6-corridor.yaml}}   # D ~ 6.9 m: the topology as it is"
    tx = 20 + 30 * math.log10(k)
    return (f"  {name}: {{topology: ../topologies/c6-corridor.yaml, parameters: "
            f"{{nodes.ap-a.position: [{spacing:g}m, 0m], radio.tx_power: {tx:.2f}dBm}}}}   "
            f"# D ~ {6.9 * k:.1f} m")
def scenario(depth, v):
    pc = "none" if depth == "auth" else "-55dBm"
    return f"""  - name: {depth}-{v}mps
    flow: movement
    from: ap-b
    movement:
      path: {{across: {{aps: [ap-b, ap-a], part: [0.3, 0.6]}}, speed: {v}m/s}}
      policy: {{link_going_down: -55dBm, pre_authenticate_below: -55dBm, pre_configure_below: {pc},
               handover_below: -60dBm, hysteresis: 2dB}}
      sample_interval: 20ms
      settle: 500ms"""
for exp, head in (("c6", HEAD_C6), ("c6-long", HEAD_LONG)):
    out = [head.rstrip("\n"), "seed: 6252", f"repetitions: {REPS[exp]}", "reference:",
           "  table: rfc6252_c6", "  columns:",
           "    pre-authentication: [" + ", ".join(f"auth-{v}mps" for v in SPEEDS[exp]) + "]",
           "    pre-configuration: [" + ", ".join(f"conf-{v}mps" for v in SPEEDS[exp]) + "]",
           "configurations:", *[conf(k) for k in CELLS[exp]], "scenarios:"]
    out += [scenario(d, v) for d in ("auth", "conf") for v in SPEEDS[exp]]
    open(f"experiments/{exp}.yaml", "w").write("\n".join(out) + "\n")
