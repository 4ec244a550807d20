"""Experiments: scenarios (handover flows), the runner, and events -> records."""
