#!/usr/bin/env bash
# Installs the Open Access gateway (and optionally central) on Raspberry Pi OS / Debian 12 or 13 as systemd services.
# Idempotent: run it again to upgrade or repair. Every command that changes the machine goes through `run`, so
# --dry-run prints exactly what a real run would do. See docs/install.md.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo scripts/install-pi.sh [options]

Installs the Open Access gateway from this checkout: system packages (pcscd, libccid, libpcsclite-dev, build tools),
a blacklist for the kernel's pn533 NFC driver, the `oag` system user (groups gpio, input), the app in /opt/oag
(npm ci, build, prune), /etc/oag/gateway.yaml from the example, /etc/oag/policy.yaml from the starter policy and
/etc/oag/secrets.env with a new deployment key (each only if absent), the pin map's GPIO boot levels and pull-ups
in the Pi's config.txt (once), the systemd units and the Pi's hardware watchdog; then enables and (re)starts the
service.

Options:
  --central                also install and start oag-central (the all-branches dashboard)
  --no-gateway             do not install oag-gateway (with --central: a central-only box)
  --dry-run                print every action instead of doing it; changes nothing
  --prefix DIR             install the app in DIR/oag (default /opt)
  --etc DIR                configuration root (default /etc): DIR/oag, DIR/systemd/system, DIR/modprobe.d, ...
                           (another root than /etc only with --dry-run: systemd reads /etc)
  --gateway-config FILE    example to copy to DIR/oag/gateway.yaml when that file is absent
  --central-config FILE    example to copy to DIR/oag/central.yaml when that file is absent
  --policy FILE            policy to copy to DIR/oag/policy.yaml when that file is absent
                           (default policies/examples/starter.yaml: closed until it has a schedule)
  --boot-config FILE       the Pi's config.txt (default /boot/firmware/config.txt, else /boot/config.txt)
  --no-boot-config         leave config.txt alone
  --no-packages            do not install Debian packages
  --no-hardware-watchdog   do not enable the Pi's hardware watchdog (RuntimeWatchdogSec=14s)
  --no-start               install and enable, but do not (re)start the services
  -h, --help               show this help
EOF
}

DRY_RUN=0
WITH_GATEWAY=1
WITH_CENTRAL=0
WITH_PACKAGES=1
WITH_HW_WATCHDOG=1
START=1
PREFIX=/opt
ETC=/etc
SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GATEWAY_EXAMPLE=
CENTRAL_EXAMPLE=
POLICY_EXAMPLE=
BOOT_CONFIG=
WITH_BOOT_CONFIG=1
MIN_NODE=20.19.0

die() {
  echo "install-pi: $*" >&2
  exit 1
}
say() { echo "==> $*"; }
note() { echo "    $*"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --central) WITH_CENTRAL=1 ;;
    --no-gateway) WITH_GATEWAY=0 ;;
    --dry-run) DRY_RUN=1 ;;
    --prefix) [[ $# -ge 2 ]] || die "--prefix needs a directory"; PREFIX=$2; shift ;;
    --prefix=*) PREFIX=${1#*=} ;;
    --etc) [[ $# -ge 2 ]] || die "--etc needs a directory"; ETC=$2; shift ;;
    --etc=*) ETC=${1#*=} ;;
    --gateway-config) [[ $# -ge 2 ]] || die "--gateway-config needs a file"; GATEWAY_EXAMPLE=$2; shift ;;
    --gateway-config=*) GATEWAY_EXAMPLE=${1#*=} ;;
    --central-config) [[ $# -ge 2 ]] || die "--central-config needs a file"; CENTRAL_EXAMPLE=$2; shift ;;
    --central-config=*) CENTRAL_EXAMPLE=${1#*=} ;;
    --policy) [[ $# -ge 2 ]] || die "--policy needs a file"; POLICY_EXAMPLE=$2; shift ;;
    --policy=*) POLICY_EXAMPLE=${1#*=} ;;
    --boot-config) [[ $# -ge 2 ]] || die "--boot-config needs a file"; BOOT_CONFIG=$2; shift ;;
    --boot-config=*) BOOT_CONFIG=${1#*=} ;;
    --no-boot-config) WITH_BOOT_CONFIG=0 ;;
    --no-packages) WITH_PACKAGES=0 ;;
    --no-hardware-watchdog) WITH_HW_WATCHDOG=0 ;;
    --no-start) START=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install-pi: unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

[[ $WITH_GATEWAY -eq 1 || $WITH_CENTRAL -eq 1 ]] || die "--no-gateway without --central installs nothing"
[[ $PREFIX == /* && $ETC == /* ]] || die "--prefix and --etc must be absolute paths"
PREFIX=${PREFIX%/}
ETC=${ETC%/}
# systemctl, modprobe and PID 1 only ever read /etc: another root is for --dry-run and tests.
[[ $DRY_RUN -eq 1 || $ETC == /etc ]] || die "--etc other than /etc only works with --dry-run (systemd and modprobe read /etc)"

APP=$PREFIX/oag
STAGE=$PREFIX/oag.new
PREVIOUS=$PREFIX/oag.previous
CONF=$ETC/oag
UNIT_DIR=$ETC/systemd/system
STATE=/var/lib/oag
PACKAGES=(pcscd libccid libpcsclite-dev pcsc-tools g++ make python3 rsync gpiod)
# The announcements (docs/sound.md): aplay, and espeak-ng and sox to make their sound files.
[[ $WITH_GATEWAY -eq 1 ]] && PACKAGES+=(alsa-utils espeak-ng sox)

# The one door to the machine: prints the command in --dry-run, runs it otherwise.
run() {
  if [[ $DRY_RUN -eq 1 ]]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# Writes stdin to a file through `run` (install reads /dev/stdin), with its mode and owner. A dry run also shows
# what the file would hold, unless it is secret.
write_file() {
  local mode=$1 owner=$2 dest=$3
  run install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" /dev/stdin "$dest"
  if [[ $DRY_RUN -eq 1 ]]; then
    if [[ $mode == 0600 ]]; then echo "    | (secret: not shown)"; else sed 's/^/    | /'; fi
  fi
}

# Writes stdin to dest only when it differs from what is there; says which.
update_file() {
  local mode=$1 owner=$2 dest=$3 content
  content=$(cat)
  if [[ -f $dest ]] && [[ "$(cat "$dest")" == "$content" ]]; then
    note "unchanged: $dest"
  else
    write_file "$mode" "$owner" "$dest" <<<"$content"
  fi
}

# Appends stdin to a file through `run`; a dry run also shows the lines.
append_file() {
  local dest=$1
  run sh -c 'cat >>"$1"' append "$dest"
  if [[ $DRY_RUN -eq 1 ]]; then sed 's/^/    | /'; fi
}

version_at_least() {
  # true when $1 >= $2, both dotted numbers
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

check_platform() {
  say "Checking the platform"
  if [[ -r /etc/os-release ]]; then
    local id version
    # shellcheck source=/dev/null
    id=$(. /etc/os-release && echo "${ID:-}")
    # shellcheck source=/dev/null
    version=$(. /etc/os-release && echo "${VERSION_ID:-}")
    case "$id:$version" in
      debian:12 | debian:13 | raspbian:12 | raspbian:13) note "OS: $id $version" ;;
      *) note "warning: tested on Raspberry Pi OS / Debian 12 and 13, this is ${id:-unknown} ${version:-?}" ;;
    esac
  fi
  [[ $DRY_RUN -eq 1 || $EUID -eq 0 ]] || die "run as root (sudo $0 ...), or with --dry-run to see what it would do"

  local node_version
  if ! node_version=$(node --version 2>/dev/null); then
    die "Node.js $MIN_NODE or newer is needed and none was found. On Debian 13 / Raspberry Pi OS 13: sudo apt-get install nodejs npm.
On Debian 12 / Raspberry Pi OS 12 (its nodejs is 18): add NodeSource's Node 20 repository (see https://github.com/nodesource/distributions),
then sudo apt-get install nodejs."
  fi
  node_version=${node_version#v}
  if ! version_at_least "$node_version" "$MIN_NODE"; then
    die "Node.js $node_version is too old: $MIN_NODE or newer is needed (better-sqlite3, the ESM loader).
On Debian 12 / Raspberry Pi OS 12 the apt nodejs is 18: install Node 20 from NodeSource (https://github.com/nodesource/distributions),
or on Debian 13: sudo apt-get install nodejs npm."
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found: sudo apt-get install npm (Debian's nodejs does not include it)"
  NODE_BIN=$(command -v node)
  case "$NODE_BIN" in
    /home/* | /root/*) die "node is $NODE_BIN: the service (ProtectHome=yes, user oag) cannot run a node from a home folder; install Node system-wide (apt or NodeSource)" ;;
  esac
  note "Node.js $node_version at $NODE_BIN"
}

install_packages() {
  say "System packages: ${PACKAGES[*]}"
  [[ $WITH_PACKAGES -eq 1 ]] || { note "skipped (--no-packages)"; return; }
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then missing+=("$pkg"); fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    note "all installed"
    return
  fi
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}

blacklist_pn533() {
  say "Blacklisting the kernel's pn533 NFC driver (it grabs ACR122U readers before pcscd can)"
  update_file 0644 root:root "$ETC/modprobe.d/oag-blacklist-pn533.conf" <<'EOF'
# Written by the Open Access gateway's install-pi.sh: the kernel's NFC stack claims ACR122U readers before pcscd
# can, and the gateway then sees no reader. pcscd with libccid drives them instead.
blacklist pn533_usb
blacklist pn533
EOF
  local module
  for module in pn533_usb pn533; do
    # Loaded now (a reader was plugged in before the blacklist existed): unload it so no reboot is needed.
    if [[ -d /sys/module/$module ]]; then run modprobe -r "$module"; fi
  done
}

create_user() {
  say "System user oag (groups gpio, input)"
  local group
  for group in oag gpio input; do
    # gpio exists on Raspberry Pi OS (its udev rules give it the GPIO files); elsewhere create it so the unit starts.
    if getent group "$group" >/dev/null; then note "group $group exists"; else run groupadd --system "$group"; fi
  done
  if getent passwd oag >/dev/null; then
    note "user oag exists"
    local have
    have=" $(id -nG oag) "
    for group in gpio input; do
      if [[ $have != *" $group "* ]]; then run usermod -a -G "$group" oag; fi
    done
  else
    run useradd --system --gid oag --groups gpio,input --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
      --comment "Open Access gateway" oag
  fi
}

install_app() {
  say "App in $APP (built in $STAGE, then swapped in)"
  # Built beside the running copy and swapped in whole: a crash-restart during the build still finds a complete app.
  if [[ -e $STAGE ]]; then run rm -rf "$STAGE"; fi
  run mkdir -p "$STAGE"
  run rsync -a --delete --exclude=/node_modules --exclude=/.git --exclude=/dist --exclude=/coverage \
    --exclude=/test-output --exclude=/var --exclude='*.sqlite' --exclude='*.sqlite-*' --exclude=/.env --exclude=/secrets.env \
    "$SOURCE/" "$STAGE/"
  # The build needs typescript (a dev dependency): install all, build, then drop the dev dependencies.
  run npm --prefix "$STAGE" ci --no-audit --no-fund
  run npm --prefix "$STAGE" run build
  run npm --prefix "$STAGE" prune --omit=dev --no-audit --no-fund
  # Root owns the app; oag only reads it.
  run chown -R root:root "$STAGE"
  run chmod -R u=rwX,go=rX "$STAGE"
  # The copy before this one stays in $PREVIOUS until the next install, for a rollback (docs/install.md).
  if [[ -e $PREVIOUS ]]; then run rm -rf "$PREVIOUS"; fi
  if [[ -e $APP ]]; then run mv "$APP" "$PREVIOUS"; fi
  run mv "$STAGE" "$APP"
}

find_example() {
  local given=$1 name=$2 candidate
  if [[ -n $given ]]; then
    [[ -f $given ]] || die "no such file: $given"
    echo "$given"
    return
  fi
  for candidate in "config/$name.example.yaml" "examples/$name.example.yaml" "examples/$name.yaml" "$name/$name.example.yaml"; do
    if [[ -f $SOURCE/$candidate ]]; then
      echo "$SOURCE/$candidate"
      return
    fi
  done
}

install_config() {
  say "Configuration in $CONF"
  run install -d -m 0750 -o root -g oag "$CONF"
  local name example
  local names=()
  [[ $WITH_GATEWAY -eq 1 ]] && names+=(gateway)
  [[ $WITH_CENTRAL -eq 1 ]] && names+=(central)
  for name in "${names[@]}"; do
    if [[ -e $CONF/$name.yaml ]]; then
      note "keeping $CONF/$name.yaml"
      continue
    fi
    if [[ $name == gateway ]]; then example=$(find_example "$GATEWAY_EXAMPLE" gateway); else example=$(find_example "$CENTRAL_EXAMPLE" central); fi
    if [[ -z $example ]]; then
      note "warning: no example $name config in $SOURCE; write $CONF/$name.yaml (root:oag 0640) before the service can start"
      continue
    fi
    # Readable by the service, writable by root only.
    run install -m 0640 -o root -g oag "$example" "$CONF/$name.yaml"
    note "edit $CONF/$name.yaml: site, pins, lock type; keep the store under $STATE"
  done

  # The example config names policy.yaml beside it: without it the gateway runs closed and raises policy-refused.
  if [[ $WITH_GATEWAY -eq 1 ]]; then
    if [[ -e $CONF/policy.yaml ]]; then
      note "keeping $CONF/policy.yaml"
    else
      local policy=${POLICY_EXAMPLE:-$SOURCE/policies/examples/starter.yaml}
      [[ -f $policy ]] || die "no such file: $policy"
      run install -m 0640 -o root -g oag "$policy" "$CONF/policy.yaml"
      note "the branch stays closed until $CONF/policy.yaml has a schedule (docs/policies.md); its site must be gateway.yaml's"
    fi
  fi

  if [[ -e $CONF/secrets.env ]]; then
    note "keeping $CONF/secrets.env (the deployment key must never change: member cards are hashed with it)"
  else
    local key=
    # 32 random bytes; generated only when it will be written, so --dry-run prints nothing secret or random.
    [[ $DRY_RUN -eq 1 ]] || key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    # Only PID 1 reads it (EnvironmentFile=), as root.
    write_file 0600 root:root "$CONF/secrets.env" <<EOF
# Open Access secrets, read by systemd (EnvironmentFile=) for the oag services. Keep a copy somewhere safe:
# every member card is stored as an HMAC with this key, and a new key means re-importing every member.
OAG_DEPLOYMENT_KEY=$key
EOF
  fi
}

# The pin map's boot levels and pull-ups (docs/hardware.md, "Suggested pin map"): the gateway config cannot set them
# (sysfs has neither), so the firmware holds each pin from the first second of boot. The same pins as
# gateway/gateway.example.yaml; a test holds this block, the example and the docs to one map.
BOOT_BEGIN='# BEGIN Open Access gateway (scripts/install-pi.sh)'
boot_config_block() {
  cat <<'EOF'
# BEGIN Open Access gateway (scripts/install-pi.sh)
# GPIO from the first second of boot for the pin map of docs/hardware.md and gateway/gateway.example.yaml. After
# changing a pin, a lock type or an activeLevel in /etc/oag/gateway.yaml, replace these lines with what
# `oag boot-config --config /etc/oag/gateway.yaml` prints.
[all]
# Outputs at their safe level (op = output, dh/dl = drive high/low): the active-low relay board's door (strike,
# fail-secure), lights (on COM-NC) and sounder relays off. A fail-safe maglock on 17 is held locked: gpio=17=op,dl.
gpio=17,22,27=op,dh
# The LEDs, through the ULN2803: off.
gpio=5,6=op,dl
# Inputs, each a contact to ground against the pull-up; never an output.
gpio=4,7,8,12,16,20,21,23,24,25,26=ip,pu
# END Open Access gateway
EOF
}

install_boot_config() {
  say "GPIO boot levels and pull-ups in the Pi's config.txt"
  if [[ $WITH_BOOT_CONFIG -eq 0 ]]; then
    note "skipped (--no-boot-config): put the lines of docs/hardware.md in config.txt yourself"
    return
  fi
  local file=$BOOT_CONFIG
  if [[ -z $file ]]; then
    if [[ -f /boot/firmware/config.txt ]]; then
      file=/boot/firmware/config.txt
    elif [[ -f /boot/config.txt ]]; then
      file=/boot/config.txt
    else
      note "no /boot/firmware/config.txt or /boot/config.txt: not a Raspberry Pi, nothing written"
      return
    fi
  fi
  [[ -f $file ]] || die "no such file: $file"
  if grep -qF "$BOOT_BEGIN" "$file"; then
    note "keeping the gateway's lines in $file (after changing a pin: oag boot-config --config $CONF/gateway.yaml)"
    return
  fi
  # The file as it was before the first change, once.
  if [[ ! -e $file.oag-backup ]]; then run cp -p "$file" "$file.oag-backup"; fi
  boot_config_block | append_file "$file"
  note "in force from the next boot"
}

# The announcements' sound files, made at install (espeak-ng, sox) rather than when the first message is due.
prepare_sounds() {
  local config=$CONF/gateway.yaml
  [[ -e $config ]] || config=$(find_example "$GATEWAY_EXAMPLE" gateway)
  if [[ -z $config ]] || ! grep -qE '^sound:' "$config"; then
    note "no sound: section in the gateway's config: no announcements to prepare (docs/sound.md)"
    return
  fi
  say "Announcements: the sound files (oag sounds prepare)"
  run runuser -u oag -- "$NODE_BIN" "$APP/dist/scripts/oag.js" sounds prepare --config "$CONF/gateway.yaml" ||
    note "warning: not every sound file could be made; the gateway raises sound-failed until they are (docs/sound.md)"
}

# The unit as shipped, with the paths of this install.
render_unit() {
  sed -e "s#/usr/bin/node #$NODE_BIN #" -e "s#/opt/oag/#$APP/#g" -e "s#/etc/oag/#$CONF/#g" "$SOURCE/systemd/$1"
}

install_units() {
  say "systemd units in $UNIT_DIR"
  local unit
  for unit in "${UNITS[@]}"; do
    render_unit "$unit" | update_file 0644 root:root "$UNIT_DIR/$unit"
  done
  if [[ $WITH_HW_WATCHDOG -eq 1 ]]; then
    update_file 0644 root:root "$ETC/systemd/system.conf.d/oag-hardware-watchdog.conf" <"$SOURCE/scripts/pi/system.conf.d/oag-hardware-watchdog.conf"
  fi
}

start_units() {
  say "Enabling and starting ${UNITS[*]}"
  # In a chroot or a container without systemd only `enable` (symlinks) works; the units start at the next boot.
  local booted=1
  [[ -d /run/systemd/system ]] || booted=0
  if [[ $booted -eq 1 || $DRY_RUN -eq 1 ]]; then run systemctl daemon-reload; fi
  run systemctl enable "${UNITS[@]}"
  if [[ $START -eq 0 ]]; then
    note "not started (--no-start)"
  elif [[ $booted -eq 0 && $DRY_RUN -eq 0 ]]; then
    note "systemd is not running here: the services start at the next boot"
  else
    # restart, not start: after an upgrade the new build must run. The gateway drives its outputs safe on the way.
    run systemctl restart "${UNITS[@]}"
  fi
}

UNITS=()
[[ $WITH_GATEWAY -eq 1 ]] && UNITS+=(oag-gateway.service)
[[ $WITH_CENTRAL -eq 1 ]] && UNITS+=(oag-central.service)

umask 022
[[ $DRY_RUN -eq 1 ]] && say "Dry run: printing the actions, changing nothing"
check_platform
install_packages
[[ $WITH_GATEWAY -eq 1 ]] && blacklist_pn533
create_user
install_app
install_config
[[ $WITH_GATEWAY -eq 1 ]] && install_boot_config
[[ $WITH_GATEWAY -eq 1 ]] && prepare_sounds
install_units
start_units
say "Done. Logs: journalctl -u ${UNITS[0]%.service} -f   Status: systemctl status ${UNITS[*]}"
