# mpa-testbed: `make reproduce` (the main job) and `make test`. Both set up what they need.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
MPA   := $(VENV)/bin/mpa-testbed
STAMP := .setup.stamp
TOPOLOGIES := $(wildcard topologies/*.yaml)

.PHONY: setup services test test-unit reproduce smoke graphs schema bench clean help

help:
	@echo "make reproduce   bring up fig9, check reachability and handoffs, draw topologies"
	@echo "make test        all tests (root: integration tests build real testbeds)"
	@echo "make test-unit   tests that need neither root nor Mininet"
	@echo "make bench       benchmarks (bring-up/teardown vs bare Mininet, handoff timing)"
	@echo "make graphs      draw every topology into results/topologies/"
	@echo "make schema      regenerate topologies/schema.json (JSON Schema for editors)"
	@echo "make clean       remove every testbed this machine's journals know of"

# Debian packages, Open vSwitch (userspace datapath), venv with pinned dependencies.
$(STAMP): scripts/setup.sh requirements.txt setup.cfg
	bash scripts/setup.sh
	touch $@

setup: $(STAMP)

# Services do not survive a reboot: check (and start) them on every run, cheaply.
services: $(STAMP)
	@bash scripts/services.sh

test: services
	$(PY) -m pytest -q -p no:cacheprovider

test-unit: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m "not root"

reproduce: services graphs
	$(MPA) validate $(TOPOLOGIES)
	$(MPA) smoke topologies/fig9-l2-preauth-roaming.yaml
	$(MPA) smoke topologies/fig8-l2-preauth-nonroaming.yaml
	@echo "results: results/smoke/*.md, results/topologies/*.svg"

smoke: services
	$(MPA) smoke $(or $(TOPOLOGY),topologies/fig9-l2-preauth-roaming.yaml)

graphs: $(STAMP)
	@mkdir -p results/topologies
	@for t in $(TOPOLOGIES); do $(MPA) graph $$t -o results/topologies/$$(basename $$t .yaml).svg; done

schema: $(STAMP)
	$(MPA) schema -o topologies/schema.json

bench: services
	$(PY) bench/bringup.py

clean: $(STAMP)
	$(MPA) clean
