#!/usr/bin/env bash
# Installs the Debian packages lansd's tests use. Idempotent; needs root
# (CI and the development machines run as root). Go modules come from go.mod.
set -euo pipefail

pkgs=(
  iproute2        # ip netns, veth, bridge: the virtual LAN of the networked tests
  util-linux      # unshare --uts: a host name per namespace
  nftables        # packet loss on the virtual LAN (the kernel has no sch_netem)
  bind9           # named: the real DNS server the wide-area registrar is tested against (internal/dnstest)
  bind9-dnsutils  # nsupdate and dig: the stock clients those tests check interoperability with
  avahi-daemon    # Avahi, the mDNS peer of the interop tests (run only inside test namespaces)
  avahi-utils     # avahi-browse and avahi-publish: Avahi's side of the interop tests
  dbus-daemon     # a private D-Bus per Avahi host, which avahi-browse/-publish talk through
  python3-zeroconf  # python-zeroconf for /usr/bin/python3: interop/peers/pyzc.py
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # avahi-daemon, dbus and named are daemons: their install scripts must not
  # start them on the machine's own network (no mDNS may ever leave on it).
  # invoke-rc.d and deb-systemd-invoke obey policy-rc.d; 101 = action forbidden.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
