"""Records -> pandas tables and matplotlib figures, beside the RFC's own values.
Runs without root or Mininet (`make report`)."""
