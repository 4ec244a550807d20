# mpa-testbed: `make reproduce` (the main job) and `make test`. Both set up what they need.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
MPA   := $(VENV)/bin/mpa-testbed
STAMP := .setup.stamp
TOPOLOGIES := $(wildcard topologies/*.yaml)

.PHONY: fuzz setup services test test-unit reproduce fig10 fig10-wan fig7 fig6 c52 crowd c6 c6-rtt c1 c1-pingpong c1-sweep c4 report smoke graphs schema bench clean help

help:
	@echo "make reproduce   every reproduction of RFC 6252 Appendix C + results/summary.md"
	@echo "make fig10       Figure 10 (C.5.3): 802.11i post/pre-authentication vs MPA"
	@echo "make fig10-wan   Figure 10 (roaming) against the delay to the home AAA (0-150 ms)"
	@echo "make fig7        Figure 7 (C.5.1): SIP mobility with MPA, buffering off/on, and non-MPA"
	@echo "make c52         C.5.2: WLAN to cellular, reactive and MPA (both up / at the handover)"
	@echo "make crowd       100 MNs pre-authenticate and hand over at once, then as a Poisson stream"
	@echo "make fig6        Figure 6 (C.5.1): Mobile IPv6 with MPA, buffering x RO off/on, and non-MPA"
	@echo "make c6          C.6: MPA success against velocity and cell size, beside the predicted limit"
	@echo "make c6-rtt      C.6 against the RTT to the AAA server (30, 50, 150 ms; not in reproduce)"
	@echo "make c1          C.1/C.2: switch-back with and without the MPA-SA at the PAA"
	@echo "make c1-pingpong C.1: ping-pong at a border against hysteresis and dwell (not in reproduce)"
	@echo "make c1-sweep    C.1 by simulation: ping-pong against hysteresis x dwell (no root)"
	@echo "make c4          C.4: one CTN, the three schemes with three CTNs, the buffering alternative (1 repetition in reproduce)"
	@echo "make report      rebuild tables and figures from existing records (no root)"
	@echo "make smoke       bring up fig9, check reachability and handoffs, tear down"
	@echo "make test        all tests (root: integration tests build real testbeds)"
	@echo "make test-unit   tests that need neither root nor Mininet"
	@echo "make fuzz        long fuzz campaigns: 1,000,000 inputs per wire parser (bench/fuzz.py)"
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
	$(MPA) run experiments/fig10.yaml
	$(MPA) run experiments/fig7.yaml
	$(MPA) run experiments/fig6.yaml
	$(MPA) run experiments/fig10-wan-sweep.yaml
	$(MPA) run experiments/c52.yaml
	$(MPA) run experiments/c6.yaml
	$(MPA) run experiments/c1.yaml
	$(MPA) run experiments/c4.yaml --repetitions 1
	$(PY) -m orchestrator.mobility.pingpong --out results/c1-sweep
	$(MPA) report --summary
	@echo "results: results/summary.md"

fig10: services
	$(MPA) run experiments/fig10.yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))

fig10-wan: services
	$(MPA) run experiments/fig10-wan-sweep.yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))

fig7: services
	$(MPA) run experiments/fig7.yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))

# C.5.2 (issue 15): 3 repetitions by default (~1 min); REPETITIONS=10 for a longer run
c52: services
	$(MPA) run experiments/c52.yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))
crowd: services
	$(MPA) run experiments/crowd.yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))
fig6: services
	$(MPA) run experiments/fig6.yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))

# C.6 (issue 16): 3 cell sizes x 6 speeds x 2 depths, 1 repetition by default (~4 min);
# C6_SWEEP=long: 5 cell sizes x 9 speeds x 2 repetitions (experiments/c6-long.yaml)
c6: services
	$(MPA) run experiments/$(if $(filter long,$(C6_SWEEP)),c6-long,c6).yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))

c6-rtt: services
	$(MPA) run experiments/c6-rtt.yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))

c1: services
	$(MPA) run experiments/c1.yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))

c1-pingpong: services
	$(MPA) run experiments/c1-pingpong.yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))

# C.1 by simulation (no root, no network, ~40 s): ping-pong against hysteresis x dwell
c1-sweep: $(STAMP)
	$(PY) -m orchestrator.mobility.pingpong --out results/c1-sweep $(if $(SEEDS),--seeds $(SEEDS))

c4: services
	$(MPA) run experiments/c4.yaml $(if $(REPETITIONS),--repetitions $(REPETITIONS))

report: $(STAMP)
	$(MPA) report --all

smoke: services
	$(MPA) smoke $(or $(TOPOLOGY),topologies/fig9-l2-preauth-roaming.yaml)

graphs: $(STAMP)
	@mkdir -p results/topologies
	@for t in $(TOPOLOGIES); do $(MPA) graph $$t -o results/topologies/$$(basename $$t .yaml).svg; done

schema: $(STAMP)
	$(MPA) schema -o topologies/schema.json

bench: services
	$(PY) bench/bringup.py
	$(PY) bench/scale.py
	$(PY) bench/handoff.py
	$(PY) bench/l2_floor.py
	$(PY) bench/eap_rounds.py
	$(PY) bench/preconfig.py
	$(PY) bench/post_switching.py
	$(PY) bench/mipv6_dataplane.py
	$(PY) bench/validate.py
	$(PY) bench/walltime.py fig10
	$(PY) bench/walltime.py fig7

fuzz: $(STAMP)
	nice -n 10 $(PY) bench/fuzz.py

clean: $(STAMP)
	$(MPA) clean
