"""Emulated network elements of the testbed (links, impairment, namespaces)."""
