#!/usr/bin/env bash
# Installs the Debian packages that `npm run test:system` (and `npm ci`'s native builds) need, non-interactively.
# Then, in a checkout whose node_modules lacks nfc-pcsc, runs `npm install` once more (see install_nfc_pcsc below).
# Idempotent: does nothing, not even `apt-get update`, when every package and nfc-pcsc are already installed.
#
# It starts no daemon: each system test starts its own mosquitto, pcscd and PostgreSQL on loopback and stops that pid.
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
  espeak-ng alsa-utils sox               # announcements: speech synthesis, aplay into ALSA's file plugin, soxi durations
  postgresql                             # central's PostgreSQL history: each test runs initdb in a temp dir (test/helpers/postgres.ts); the packaged cluster is never started
)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

SUDO=()
if [[ $EUID -ne 0 ]]; then
  SUDO=(sudo)
fi

install_packages() {
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-test-deps: all ${#PACKAGES[@]} packages already installed"
    return
  fi
  if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-test-deps: run as root, or install sudo" >&2; exit 1; }
  fi

  # Keep the packages' services from starting (invoke-rc.d asks policy-rc.d; 101 = action forbidden). Only a
  # policy-rc.d that this script wrote is removed again; one that was there before stays as it was.
  local policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# Written by install-test-deps.sh for the length of an install.\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 0755 "$policy"
    trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
  fi

  echo "install-test-deps: installing ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  echo "install-test-deps: done"
}

# nfc-pcsc is an optional dependency with a native part: an `npm install` (or `npm ci`) that ran before
# libpcsclite-dev was there skipped it with only a warning, and `npm rebuild` does not install a skipped optional
# dependency. Only a new `npm install` does. Without it the PC/SC system tests cannot run.
install_nfc_pcsc() {
  # Not a checkout with its dependencies installed yet (CI runs this before `npm ci`): npm will do it then.
  [[ -f $REPO/package.json && -d $REPO/node_modules ]] || return 0
  [[ -d $REPO/node_modules/nfc-pcsc ]] && return 0

  # As the person who typed `sudo`, so that node_modules and their npm cache stay theirs.
  local as_user=() who=
  if [[ $EUID -eq 0 && -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
    as_user=(sudo -u "$SUDO_USER" -H env "PATH=$PATH")
    who=" as $SUDO_USER"
  fi
  command -v npm >/dev/null 2>&1 || {
    echo "install-test-deps: $REPO/node_modules has no nfc-pcsc, and npm is not on this PATH: run npm install in $REPO yourself" >&2
    exit 1
  }
  echo "install-test-deps: $REPO/node_modules has no nfc-pcsc: npm skipped this optional dependency because"
  echo "install-test-deps: libpcsclite-dev was missing when npm install ran; running npm install again$who"
  (cd "$REPO" && "${as_user[@]}" npm install --no-audit --no-fund)
  if [[ ! -d $REPO/node_modules/nfc-pcsc ]]; then
    echo "install-test-deps: npm install did not install nfc-pcsc either: see its build output above (node-gyp needs g++, make, python3 and libpcsclite-dev)" >&2
    exit 1
  fi
  echo "install-test-deps: nfc-pcsc installed"
}

install_packages
install_nfc_pcsc
