"""Records -> tables and figures, beside the RFC's own values where the experiment asks.
Runs without root or Mininet (`make report`).

The pipeline (one way: records -> report):

  records.py        a run directory as the analysis reads it (RunData: records, spec,
                    events, the declared `reference:` mapping); statistics and sweep helpers
  parameters.py     every emulated value of every configuration, with where it was set, and
                    the emulation's constants: the parameters table and figure captions
  generic.py        the report of any run: statistics per configuration x scenario x phase,
                    retransmissions, distributions, ladders
  ladder.py         the ladder diagram of one handover from its captures and events, lanes
                    by role
  plots.py          figure style, saving, captions
  reproduction.py   the registry of RFC reproductions (Reproduction, check, checks_markdown)
  reproductions/    one module per reproduction (fig10, fig7), each registering its
                    tables, checks, figures and README sections
  reference/        the RFC's values (CSV), with the columns an experiment may map onto
  report.py         report(run): generic + the registered reproduction; summary.md
"""
