#!/usr/bin/env bash
# Idempotent set-up of everything the testbed needs on a fresh Debian 12 machine.
# Called by `make setup` (which records a stamp so other targets run it once).
#   1. Debian packages (Mininet, Open vSwitch, daemons used by later stages)
#   2. Open vSwitch started for the userspace datapath (no kernel module needed)
#   3. a venv that sees Debian's Mininet, with the pinned Python dependencies
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$here/.venv}

APT_PACKAGES=(
  mininet openvswitch-switch bridge-utils iptables iproute2 ethtool
  libnetfilter-queue-dev tcpdump tshark
  freeradius eapoltest dnsmasq-base
  strongswan-charon strongswan-swanctl libcharon-extra-plugins
  libstrongswan-extra-plugins libstrongswan-standard-plugins
  sip-tester openssh-server openssh-client iputils-ping
  python3-venv python3-dev build-essential graphviz
)

log() { printf '[setup] %s\n' "$*"; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  # Daemons are started by the testbed inside its own hosts, never as system services:
  # policy-rc.d (101) keeps package scripts from starting them on this shared machine.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
else
  log "Debian packages present"
fi

# Open vSwitch, userspace datapath. TSO must be enabled in the userspace datapath or TCP
# through it times out (checksum offload); see shared PLATFORM.md.
if ! ovs-vsctl --timeout=2 show >/dev/null 2>&1; then
  log "starting Open vSwitch (userspace datapath)"
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random --no-ovs-vswitchd >/dev/null 2>&1 || true
  ovs-vsctl --no-wait set Open_vSwitch . other_config:userspace-tso-enable=true
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >/dev/null
fi
if [ "$(ovs-vsctl get Open_vSwitch . other_config:userspace-tso-enable 2>/dev/null | tr -d '"')" != "true" ]; then
  log "enabling userspace TSO and restarting Open vSwitch"
  ovs-vsctl set Open_vSwitch . other_config:userspace-tso-enable=true
  /usr/share/openvswitch/scripts/ovs-ctl restart --system-id=random >/dev/null
fi
ovs-vsctl --timeout=5 show >/dev/null

# The venv uses Debian's python3 so that `import mininet` finds Debian's package.
if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv $VENV"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
req="$here/requirements.txt"
stamp="$VENV/.requirements.sha256"
want=$( (cat "$req"; cat "$here/setup.cfg") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python dependencies"
  piplog=$(mktemp)
  if ! { "$VENV/bin/pip" install -q --upgrade pip && "$VENV/bin/pip" install -q -r "$req" &&
         "$VENV/bin/pip" install -q --no-deps -e "$here"; } >"$piplog" 2>&1; then
    grep -v "^WARNING: Location" "$piplog" >&2; rm -f "$piplog"; exit 1
  fi
  rm -f "$piplog"
  echo "$want" > "$stamp"
else
  log "Python dependencies present"
fi
"$VENV/bin/python" -c "import mininet.net, os_ken, pydantic, netfilterqueue" 
log "ready"
