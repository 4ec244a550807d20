"""Topology and experiment models: YAML in, validated pydantic models out.

Loading keeps a source map (file, line, column per YAML path) so that every error a
researcher sees names the place in the file and says what was expected.
"""
from .errors import ModelError, TopologyError
from .load import load_topology, load_topology_text
from .topology import Topology

__all__ = ["ModelError", "TopologyError", "Topology", "load_topology", "load_topology_text"]
