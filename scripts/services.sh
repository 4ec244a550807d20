#!/usr/bin/env bash
# Start what the testbed needs at run time if it is not running (Open vSwitch only; every
# daemon of a testbed runs inside the testbed's own hosts).
set -euo pipefail
if ! ovs-vsctl --timeout=2 show >/dev/null 2>&1; then
  echo "[services] starting Open vSwitch (userspace datapath)"
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >/dev/null 2>&1
fi
ovs-vsctl --timeout=5 show >/dev/null
