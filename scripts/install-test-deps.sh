#!/usr/bin/env bash
# Installs the Debian packages that `npm run test:system` (and `npm ci`'s native builds) need, non-interactively.
# Idempotent: does nothing, not even `apt-get update`, when every package is already installed.
#
# It starts no daemon: each system test starts its own mosquitto and pcscd on loopback and stops that pid.
# Packaged services are kept from starting during the install (policy-rc.d). If a packaged pcscd is already running
# on the machine (`systemctl status pcscd`), the PC/SC system test cannot bind vpcd's fixed port 127.0.0.1:35963:
# stop it yourself (`sudo systemctl stop pcscd.socket pcscd.service`); this script never stops what it did not start.
# mosquitto's packaged service listens on 1883, which the tests never use (they pick free ports).
set -euo pipefail

PACKAGES=(
  mosquitto mosquitto-clients            # the real MQTT broker and its clients
  pcscd vsmartcard-vpcd pcsc-tools       # a real PC/SC stack with a virtual reader
  libpcsclite-dev                        # headers for building nfc-pcsc (must precede npm ci)
  g++ make python3                       # node-gyp builds better-sqlite3, nfc-pcsc and onoff from source; python3 also receives sd_notify datagrams in a test
  chromium fonts-liberation              # the dashboard and console tests (playwright-core drives it); readable screenshots
  openssl                                # test CAs and certificates for mosquitto's TLS listener
  systemd                                # systemd-analyze verify, systemd-notify
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-test-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=()
if [[ $EUID -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-test-deps: run as root, or install sudo" >&2; exit 1; }
  SUDO=(sudo)
fi

# Keep the packages' services from starting (invoke-rc.d asks policy-rc.d; 101 = action forbidden). Only a
# policy-rc.d that this script wrote is removed again; one that was there before stays as it was.
POLICY=/usr/sbin/policy-rc.d
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\n# Written by install-test-deps.sh for the length of an install.\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 0755 "$POLICY"
  trap '"${SUDO[@]}" rm -f "$POLICY"' EXIT
fi

echo "install-test-deps: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-test-deps: done"
