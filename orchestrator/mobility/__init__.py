"""Movement: where mobile nodes are, what they hear, and when their policy prepares and makes a
handover (RFC 6252 s6.3, Appendix C.1, C.2, C.4, C.6). Pure: no I/O, deterministic with a seed.

Who does what:
- `geometry` knows positions and paths (metres, seconds; feet conversions for C.6).
- `propagation` turns a position into an RSSI per AP (log-distance, log-normal shadowing).
- `station` is what the radio reports: scan results, link-going-down, link-down (802.21).
- `policy` decides, from what the station reports, when to discover, pre-authenticate,
  pre-configure and hand over (C.1's thresholds, hysteresis, dwell timer); counts ping-pongs.
- `simulate` runs a path through the policy at a sample interval: the timeline the runner
  will replay against the agents.
- `c6` is the velocity guideline of C.6.
- `plot` draws a timeline (map, RSSI over time); the only module that imports matplotlib.
"""
