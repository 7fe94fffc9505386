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
/etc/oag/secrets.env with a new deployment key (each only if absent), the uplink to central, the first console
manager, the member list, the pin map's GPIO boot levels and pull-ups in the Pi's config.txt (once), the systemd
units and the Pi's hardware watchdog; checks every config it wrote with `oag check-config` and enables and
(re)starts the service only when they pass. Asks nothing: secrets come from files, never from the command line.

A branch:
  --site ID                the branch's site id, in gateway.yaml and policy.yaml (lower case, digits, dashes)
  --central-url URL        central's broker for this branch (mqtts://central.example.org:8883): writes mqtt:
  --broker-password-file FILE
                           this branch's MQTT password (`oag central mqtt-passwd ... SITE --generate` at central)
  --central-public-key FILE
                           central's public signing key (`oag central signing-key --public` at central)
  --deployment-key FILE    the estate's deployment key (hex or base64, central's copy); default: a new one
  --manager NAME           make the first staff console manager (its password printed once, or:)
  --manager-password-file FILE
  --members-source SRC     central (the list comes over MQTT), or a CSV export to import now

Central:
  --central                also install oag-central, with Mosquitto, its signing key, its broker password, the ACL
  --no-gateway             do not install oag-gateway (with --central: a central-only box)
  --admin NAME             make the first central administrator (its password printed once, or:)
  --admin-password-file FILE

General:
  --dry-run                print every action instead of doing it; changes nothing
  --config-only            write and check the configuration, keys and accounts only: no packages, app or units
                           (uses the app installed in --prefix, else this checkout's bin/oag.js)
  --service-user NAME      the user the services run as and that reads the config (default oag)
  --state-dir DIR          where the services write (default /var/lib/oag; another only with --config-only)
  --prefix DIR             install the app in DIR/oag (default /opt)
  --etc DIR                configuration root (default /etc): DIR/oag, DIR/systemd/system, DIR/modprobe.d, ...
                           (another root than /etc only with --dry-run or --config-only: systemd reads /etc)
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
CONFIG_ONLY=0
SVC=oag
STATE=/var/lib/oag
SITE=
MQTT_URL=
BROKER_PASSWORD_FILE=
CENTRAL_PUBLIC_KEY=
DEPLOYMENT_KEY_FILE=
MANAGER=
MANAGER_PASSWORD_FILE=
MEMBERS_SOURCE=
ADMIN=
ADMIN_PASSWORD_FILE=

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
    --config-only) CONFIG_ONLY=1 ;;
    --service-user | --state-dir | --site | --central-url | --broker-password-file | --central-public-key | --deployment-key | \
      --manager | --manager-password-file | --members-source | --admin | --admin-password-file)
      [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"
      case "$1" in
        --service-user) SVC=$2 ;;
        --state-dir) STATE=$2 ;;
        --site) SITE=$2 ;;
        --central-url) MQTT_URL=$2 ;;
        --broker-password-file) BROKER_PASSWORD_FILE=$2 ;;
        --central-public-key) CENTRAL_PUBLIC_KEY=$2 ;;
        --deployment-key) DEPLOYMENT_KEY_FILE=$2 ;;
        --manager) MANAGER=$2 ;;
        --manager-password-file) MANAGER_PASSWORD_FILE=$2 ;;
        --members-source) MEMBERS_SOURCE=$2 ;;
        --admin) ADMIN=$2 ;;
        --admin-password-file) ADMIN_PASSWORD_FILE=$2 ;;
      esac
      shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install-pi: unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

[[ $WITH_GATEWAY -eq 1 || $WITH_CENTRAL -eq 1 ]] || die "--no-gateway without --central installs nothing"
[[ $PREFIX == /* && $ETC == /* ]] || die "--prefix and --etc must be absolute paths"
PREFIX=${PREFIX%/}
ETC=${ETC%/}
# systemctl, modprobe and PID 1 only ever read /etc: another root is for --dry-run, --config-only and tests.
[[ $DRY_RUN -eq 1 || $CONFIG_ONLY -eq 1 || $ETC == /etc ]] || die "--etc other than /etc only works with --dry-run or --config-only (systemd and modprobe read /etc)"
[[ $STATE == /* ]] || die "--state-dir must be an absolute path"
STATE=${STATE%/}
# The units' StateDirectory=oag is /var/lib/oag: the store anywhere else would be read-only to the service.
[[ $DRY_RUN -eq 1 || $CONFIG_ONLY -eq 1 || $STATE == /var/lib/oag ]] || die "--state-dir other than /var/lib/oag only works with --dry-run or --config-only (the units write /var/lib/oag)"
[[ $SVC =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--service-user: not a user name: $SVC"
[[ -z $SITE || $SITE =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || die "--site: must be lower case letters, digits and dashes (at most 63): $SITE"
[[ -z $MQTT_URL || $MQTT_URL =~ ^(mqtts?|wss?)://[^[:space:]]+$ ]] || die "--central-url: must be an mqtt://, mqtts://, ws:// or wss:// URL: $MQTT_URL"
for given in "$GATEWAY_EXAMPLE" "$CENTRAL_EXAMPLE" "$POLICY_EXAMPLE" "$BROKER_PASSWORD_FILE" "$CENTRAL_PUBLIC_KEY" "$DEPLOYMENT_KEY_FILE" "$MANAGER_PASSWORD_FILE" "$ADMIN_PASSWORD_FILE"; do
  # Checked before anything changes: a typo must not leave a half-made install.
  [[ -z $given || -f $given ]] || die "no such file: $given"
done
case "$MEMBERS_SOURCE" in
  '' | central) ;;
  *) [[ -f $MEMBERS_SOURCE ]] || die "--members-source: central, or a CSV file; no such file: $MEMBERS_SOURCE" ;;
esac
if [[ $WITH_GATEWAY -eq 0 ]]; then
  for given in "$SITE" "$MQTT_URL" "$BROKER_PASSWORD_FILE" "$CENTRAL_PUBLIC_KEY" "$MANAGER" "$MEMBERS_SOURCE"; do
    [[ -z $given ]] || die "--site, --central-url, --broker-password-file, --central-public-key, --manager and --members-source are a branch's: not with --no-gateway"
  done
fi
[[ -n $ADMIN || -z $ADMIN_PASSWORD_FILE ]] || die "--admin-password-file goes with --admin NAME"
[[ -n $MANAGER || -z $MANAGER_PASSWORD_FILE ]] || die "--manager-password-file goes with --manager NAME"
[[ $WITH_CENTRAL -eq 1 || -z $ADMIN ]] || die "--admin makes central's first administrator: with --central"
# A branch beside central on one box reaches it through Mosquitto on loopback, with keys made here.
if [[ $WITH_CENTRAL -eq 1 && $WITH_GATEWAY -eq 1 && -z $MQTT_URL ]]; then MQTT_URL=mqtt://127.0.0.1:1883; fi

APP=$PREFIX/oag
STAGE=$PREFIX/oag.new
PREVIOUS=$PREFIX/oag.previous
CONF=$ETC/oag
UNIT_DIR=$ETC/systemd/system
MOSQUITTO=$ETC/mosquitto
# A branch talking to a central elsewhere needs its login and central's key: asked for before anything changes.
if [[ -n $MQTT_URL && $WITH_CENTRAL -eq 0 ]]; then
  [[ -n $CENTRAL_PUBLIC_KEY || -e $CONF/central-public.pem ]] ||
    die "--central-url needs --central-public-key FILE: central's public signing key (oag central signing-key --public FILE, at central)"
  [[ -n $BROKER_PASSWORD_FILE || -e $CONF/mqtt.password ]] ||
    die "--central-url needs --broker-password-file FILE: this branch's MQTT password (oag central mqtt-passwd FILE SITE --generate, at central)"
fi
[[ $MEMBERS_SOURCE != central || -n $MQTT_URL || -e $CONF/gateway.yaml ]] || die "--members-source central needs --central-url (or --central on this box)"
PACKAGES=(pcscd libccid libpcsclite-dev pcsc-tools g++ make python3 rsync gpiod)
# The announcements (docs/sound.md): aplay, and espeak-ng and sox to make their sound files.
[[ $WITH_GATEWAY -eq 1 ]] && PACKAGES+=(alsa-utils espeak-ng sox)
# Central's broker for a real estate (docs/central.md, "Mosquitto").
[[ $WITH_CENTRAL -eq 1 ]] && PACKAGES+=(mosquitto)

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
# what the file would hold, unless it is secret (mode 0600, or a fourth argument `secret`).
write_file() {
  local mode=$1 owner=$2 dest=$3 secret=${4:-}
  run install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" /dev/stdin "$dest"
  if [[ $DRY_RUN -eq 1 ]]; then
    if [[ $mode == 0600 || $secret == secret ]]; then echo "    | (secret: not shown)"; cat >/dev/null; else sed 's/^/    | /'; fi
  fi
}

# The oag CLI, as the service user and with the service's environment (secrets.env, which systemd reads as its
# EnvironmentFile): it reads the files the service will, with the service's rights. The deployment key reaches the
# child through its environment, never its command line.
oag_as_service() {
  if [[ $DRY_RUN -eq 1 ]]; then
    run runuser -u "$SVC" -- "${OAG[@]}" "$@"
    return
  fi
  (
    if [[ -f $CONF/secrets.env ]]; then
      set -a
      # shellcheck source=/dev/null
      . "$CONF/secrets.env"
      set +a
    fi
    # From the state folder, as the unit's WorkingDirectory (a relative path lands where the service may write), and
    # with its UMask: a store made here is not world-readable.
    umask 0027
    cd "$STATE"
    runuser -u "$SVC" -- "${OAG[@]}" "$@"
  )
}

# A file handed over by the operator (a password, a CSV) made readable by the service user for one command, in a
# folder of its own: its path in HANDED; done_handover removes it.
HANDOVER=
HANDED=
hand_over() {
  if [[ $DRY_RUN -eq 1 ]]; then
    HANDED=$1
    return
  fi
  HANDOVER=$(mktemp -d /tmp/oag-install.XXXXXX)
  chown "$SVC" "$HANDOVER"
  # Under its own name: the command's messages name it.
  HANDED=$HANDOVER/$(basename "$1")
  install -m 0400 -o "$SVC" "$1" "$HANDED"
}
done_handover() {
  [[ -z $HANDOVER ]] || rm -rf "$HANDOVER"
  HANDOVER=
}
trap '[[ -z $HANDOVER ]] || rm -rf "$HANDOVER"' EXIT


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
  say "System user $SVC (groups gpio, input)"
  local group
  for group in "$SVC" gpio input; do
    # gpio exists on Raspberry Pi OS (its udev rules give it the GPIO files); elsewhere create it so the unit starts.
    if getent group "$group" >/dev/null; then note "group $group exists"; else run groupadd --system "$group"; fi
  done
  if getent passwd "$SVC" >/dev/null; then
    note "user $SVC exists"
    local have
    have=" $(id -nG "$SVC") "
    for group in gpio input; do
      if [[ $have != *" $group "* ]]; then run usermod -a -G "$group" "$SVC"; fi
    done
  else
    run useradd --system --gid "$SVC" --groups gpio,input --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
      --comment "Open Access gateway" "$SVC"
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

# The example's text with this install's site id (--site) in place of its own.
with_site() {
  if [[ -n $SITE ]]; then sed -E "s/^site:[[:space:]]*[a-z0-9-]+/site: $SITE/" "$1"; else cat "$1"; fi
}

# The site id a config file names.
site_of() {
  sed -n -E 's/^site:[[:space:]]*([a-z0-9-]+).*/\1/p' "$1" | head -n1
}

# The gateway's uplink to central, appended to a new gateway.yaml: it logs in as its site id, with the password and
# central's public key that the install put beside it.
uplink_block() {
  cat <<EOF

# The uplink to central, written by install-pi.sh (docs/gateway.md): the branch logs in as its site id; it acts on
# nothing central's signing key did not sign.
mqtt:
  url: $MQTT_URL
  username: $1
  passwordFile: $CONF/mqtt.password
  centralKeys: [$CONF/central-public.pem]
EOF
}

install_config() {
  say "Configuration in $CONF"
  run install -d -m 0750 -o root -g "$SVC" "$CONF"
  local name example
  local names=()
  [[ $WITH_GATEWAY -eq 1 ]] && names+=(gateway)
  [[ $WITH_CENTRAL -eq 1 ]] && names+=(central)
  for name in "${names[@]}"; do
    if [[ -e $CONF/$name.yaml ]]; then
      note "keeping $CONF/$name.yaml"
      [[ $name == gateway && -n $SITE && "$(site_of "$CONF/$name.yaml")" != "$SITE" ]] &&
        note "warning: --site $SITE, but $CONF/gateway.yaml is for $(site_of "$CONF/$name.yaml"): the file wins"
      continue
    fi
    if [[ $name == gateway ]]; then example=$(find_example "$GATEWAY_EXAMPLE" gateway); else example=$(find_example "$CENTRAL_EXAMPLE" central); fi
    if [[ -z $example ]]; then
      note "warning: no example $name config in $SOURCE; write $CONF/$name.yaml (root:$SVC 0640) before the service can start"
      continue
    fi
    # Readable by the service, writable by root only.
    if [[ $name == gateway && ( -n $SITE || -n $MQTT_URL ) ]]; then
      local site=${SITE:-$(site_of "$example")}
      {
        with_site "$example"
        if [[ -n $MQTT_URL ]]; then
          if grep -qE '^mqtt:' "$example"; then note "warning: $example has an mqtt: section already: --central-url not written" >&2; else uplink_block "$site"; fi
        fi
      } | write_file 0640 "root:$SVC" "$CONF/$name.yaml"
    else
      run install -m 0640 -o root -g "$SVC" "$example" "$CONF/$name.yaml"
    fi
    if [[ $name == gateway ]]; then
      note "edit $CONF/$name.yaml: site, pins, lock type; keep the store under $STATE"
    else
      note "edit $CONF/$name.yaml: the dashboard's address (http), the time zone; keep the store under $STATE"
    fi
  done

  # The example config names policy.yaml beside it: without it the gateway runs closed and raises policy-refused.
  if [[ $WITH_GATEWAY -eq 1 ]]; then
    if [[ -e $CONF/policy.yaml ]]; then
      note "keeping $CONF/policy.yaml"
    else
      local policy=${POLICY_EXAMPLE:-$SOURCE/policies/examples/starter.yaml}
      [[ -f $policy ]] || die "no such file: $policy"
      if [[ -n $SITE ]]; then
        with_site "$policy" | write_file 0640 "root:$SVC" "$CONF/policy.yaml"
      else
        run install -m 0640 -o root -g "$SVC" "$policy" "$CONF/policy.yaml"
      fi
      note "the branch stays closed until $CONF/policy.yaml has a schedule (docs/policies.md); its site must be gateway.yaml's"
    fi
  fi

  install_deployment_key
}

# secrets.env: the deployment key every card is hashed with, from --deployment-key or new. Never replaced.
install_deployment_key() {
  local key=
  if [[ -e $CONF/secrets.env ]]; then
    note "keeping $CONF/secrets.env (the deployment key must never change: member cards are hashed with it)"
    # The line to find reaches grep through a pipe (printf is the shell's own): a key on grep's command line would be
    # in `ps` for anyone on the machine.
    if [[ -n $DEPLOYMENT_KEY_FILE ]] && ! grep -qxF -f <(printf 'OAG_DEPLOYMENT_KEY=%s\n' "$(tr -d ' \r\n' <"$DEPLOYMENT_KEY_FILE")") "$CONF/secrets.env"; then
      die "--deployment-key $DEPLOYMENT_KEY_FILE is not the key in $CONF/secrets.env: a new key means importing every member again; remove that file first if you mean it"
    fi
    return
  fi
  if [[ -n $DEPLOYMENT_KEY_FILE ]]; then
    # Read here, by the shell: the key is on no command line. check-config tests it below with the gateway's loader.
    key=$(tr -d ' \r\n' <"$DEPLOYMENT_KEY_FILE")
    [[ $key =~ ^[A-Za-z0-9+/=_-]+$ ]] || die "--deployment-key $DEPLOYMENT_KEY_FILE: one line of hex or base64 expected"
    note "the deployment key from $DEPLOYMENT_KEY_FILE"
  else
    # 32 random bytes; generated only when it will be written, so --dry-run prints nothing secret or random.
    [[ $DRY_RUN -eq 1 ]] || key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  fi
  # Only PID 1 reads it (EnvironmentFile=), as root.
  write_file 0600 root:root "$CONF/secrets.env" <<EOF
# Open Access secrets, read by systemd (EnvironmentFile=) for the oag services. Keep a copy somewhere safe:
# every member card is stored as an HMAC with this key, and a new key means re-importing every member.
OAG_DEPLOYMENT_KEY=$key
EOF
}

# The branch's side of the uplink: its MQTT password and central's public key, beside its config.
install_uplink_files() {
  [[ -n $BROKER_PASSWORD_FILE || -n $CENTRAL_PUBLIC_KEY ]] || return 0
  say "The uplink's password and central's public key in $CONF"
  if [[ -n $BROKER_PASSWORD_FILE ]]; then
    run install -m 0640 -o root -g "$SVC" "$BROKER_PASSWORD_FILE" "$CONF/mqtt.password"
  fi
  if [[ -n $CENTRAL_PUBLIC_KEY ]]; then
    update_file 0640 "root:$SVC" "$CONF/central-public.pem" <"$CENTRAL_PUBLIC_KEY"
  fi
}

# Central: its signing key (never replaced), the public half for the branches, Mosquitto's password file, ACL and
# listener, central's own broker login, and on one box the branch's login too.
install_central_keys() {
  say "Central's signing key and Mosquitto in $CONF and $MOSQUITTO"
  local signing=$CONF/central-signing.key passwd=$MOSQUITTO/oag.passwd
  if [[ -e $signing ]]; then
    note "keeping $signing (every branch trusts it: a new one means a rollover, docs/central.md)"
  else
    # Made 0600 root, never over an existing file; then readable by the service's group.
    if [[ $DRY_RUN -eq 1 ]]; then run "${OAG[@]}" central signing-key "$signing"; else "${OAG[@]}" central signing-key "$signing" >/dev/null; fi
  fi
  run chgrp "$SVC" "$signing"
  run chmod 0640 "$signing"
  # The public half, for each branch's mqtt.centralKeys (this box's gateway reads it here).
  if [[ $DRY_RUN -eq 1 ]]; then
    run "${OAG[@]}" central signing-key --public "$signing"
    write_file 0640 "root:$SVC" "$CONF/central-public.pem" </dev/null
  else
    "${OAG[@]}" central signing-key --public "$signing" 2>/dev/null | update_file 0640 "root:$SVC" "$CONF/central-public.pem"
  fi

  run install -d -m 0755 -o root -g root "$MOSQUITTO/conf.d"
  # The ACL, rendered from the rules the embedded broker applies (docs/central.md).
  if [[ $DRY_RUN -eq 1 ]]; then
    run "${OAG[@]}" central mqtt-acl
    write_file 0644 root:root "$MOSQUITTO/oag.acl" </dev/null
  else
    "${OAG[@]}" central mqtt-acl | update_file 0644 root:root "$MOSQUITTO/oag.acl"
  fi
  mosquitto_conf | update_file 0644 root:root "$MOSQUITTO/conf.d/oag.conf"

  # Central's own login, made once: the password alone on stdout, into a file only root and the service read.
  new_mqtt_login central "$CONF/central-mqtt.password"
  # A branch on this box logs in as its site id, unless it was given a password of its own.
  if [[ $WITH_GATEWAY -eq 1 && -z $BROKER_PASSWORD_FILE ]]; then
    local site=$SITE
    [[ -n $site ]] || site=$(site_of "${GATEWAY_EXAMPLE:-$SOURCE/gateway/gateway.example.yaml}")
    [[ -e $CONF/gateway.yaml ]] && site=$(site_of "$CONF/gateway.yaml")
    new_mqtt_login "$site" "$CONF/mqtt.password"
  fi
  # Mosquitto reads the file as its own user; `oag central mqtt-passwd` writes it 0600 root.
  if getent group mosquitto >/dev/null || [[ $DRY_RUN -eq 1 ]]; then
    run chgrp mosquitto "$passwd"
    run chmod 0640 "$passwd"
  fi
}

# A login in Mosquitto's password file, with its password in `dest` (once: kept when dest is there).
new_mqtt_login() {
  local user=$1 dest=$2
  if [[ -e $dest ]]; then
    note "keeping $dest (the MQTT password of $user)"
    return
  fi
  if [[ $DRY_RUN -eq 1 ]]; then
    run "${OAG[@]}" central mqtt-passwd "$MOSQUITTO/oag.passwd" "$user" --generate
    write_file 0640 "root:$SVC" "$dest" secret </dev/null
    return
  fi
  local password
  password=$("${OAG[@]}" central mqtt-passwd "$MOSQUITTO/oag.passwd" "$user" --generate 2>/dev/null) || die "could not add $user to $MOSQUITTO/oag.passwd"
  write_file 0640 "root:$SVC" "$dest" secret <<<"$password"
}

mosquitto_conf() {
  cat <<EOF
# Written by the Open Access install-pi.sh --central (docs/central.md, "Mosquitto"): every client logs in, and the
# ACL confines each branch to its own topics.
per_listener_settings false
allow_anonymous false
password_file $MOSQUITTO/oag.passwd
acl_file $MOSQUITTO/oag.acl
max_queued_messages 100000
max_inflight_messages 20
max_packet_size 20881920

# Central, and a gateway on this box.
listener 1883 127.0.0.1
EOF
  if [[ -f $MOSQUITTO/certs/server.crt && -f $MOSQUITTO/certs/server.key ]]; then
    cat <<EOF

# Branches, over TLS.
listener 8883
certfile $MOSQUITTO/certs/server.crt
keyfile $MOSQUITTO/certs/server.key
tls_version tlsv1.2
EOF
  else
    cat <<EOF

# Branches on other machines reach central over TLS: put the server's certificate and key in
# $MOSQUITTO/certs/server.crt and server.key and run install-pi.sh --central again.
EOF
  fi
}

# The service's state folder, where the stores are made before the first start.
install_state_dir() {
  if [[ -d $STATE ]]; then note "keeping $STATE"; else run install -d -m 0750 -o "$SVC" -g "$SVC" "$STATE"; fi
}

# Every config this install put in place, checked as the service will read it: no service is enabled on a config
# that would not run.
validate_configs() {
  say "Checking the configuration (oag check-config) before enabling anything"
  local failed=()
  if [[ $WITH_GATEWAY -eq 1 ]]; then
    oag_as_service check-config --require-key "$CONF/gateway.yaml" || failed+=("$CONF/gateway.yaml")
  fi
  if [[ $WITH_CENTRAL -eq 1 ]]; then
    oag_as_service check-config --central --require-key "$CONF/central.yaml" || failed+=("$CONF/central.yaml")
  fi
  [[ ${#failed[@]} -eq 0 ]] || die "not enabling ${UNITS[*]}: ${failed[*]} does not pass oag check-config (the lines above say why); fix it and run this again"
}

# The first staff console manager (--manager): made once, its password from a file or made here and printed once.
create_manager() {
  [[ -n $MANAGER ]] || return 0
  say "The first console manager: $MANAGER"
  if [[ $DRY_RUN -eq 0 ]] && oag_as_service users list --config "$CONF/gateway.yaml" --json 2>/dev/null | grep -qF "\"username\": \"$MANAGER\""; then
    note "keeping the account $MANAGER"
    return
  fi
  local password= made=0
  if [[ -n $MANAGER_PASSWORD_FILE ]]; then
    [[ $DRY_RUN -eq 1 ]] || password=$(head -n1 "$MANAGER_PASSWORD_FILE")
  elif [[ $DRY_RUN -eq 0 ]]; then
    password=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
    made=1
  fi
  # On standard input: a password is never on a command line.
  oag_as_service users add --config "$CONF/gateway.yaml" --username "$MANAGER" --role manager --password-stdin <<<"$password" ||
    die "could not make the console manager $MANAGER"
  # Printed at once, so that a later step failing cannot lose it.
  [[ $made -eq 0 ]] || note "password of the console manager $MANAGER (shown once, change it in the console): $password"
}

# The first central administrator (--admin): made once; central makes and prints the password unless a file gives it.
create_admin() {
  [[ -n $ADMIN ]] || return 0
  say "The first central administrator: $ADMIN"
  if [[ $DRY_RUN -eq 0 ]] && oag_as_service central users list --config "$CONF/central.yaml" --json 2>/dev/null | grep -qF "\"username\": \"$ADMIN\""; then
    note "keeping the account $ADMIN"
    return
  fi
  if [[ -n $ADMIN_PASSWORD_FILE ]]; then
    hand_over "$ADMIN_PASSWORD_FILE"
    oag_as_service central users add "$ADMIN" --role administrator --config "$CONF/central.yaml" --password-file "$HANDED" ||
      { done_handover; die "could not make the central administrator $ADMIN"; }
    done_handover
  else
    oag_as_service central users add "$ADMIN" --role administrator --config "$CONF/central.yaml" </dev/null ||
      die "could not make the central administrator $ADMIN"
  fi
}

# Where the branch's member list comes from (--members-source): central over MQTT, or an export imported now.
install_members() {
  case "$MEMBERS_SOURCE" in
    '') note "no --members-source: the branch knows no member yet (oag members import, or central over MQTT; docs/members.md)" ;;
    central)
      say "Member list: from central"
      if [[ $DRY_RUN -eq 0 ]] && ! grep -qE '^mqtt:' "$CONF/gateway.yaml"; then
        die "--members-source central: $CONF/gateway.yaml has no mqtt: section (give --central-url)"
      fi
      note "the branch asks central for its list once it is connected (oag central members import, at central)"
      ;;
    *)
      say "Member list: importing $MEMBERS_SOURCE"
      hand_over "$MEMBERS_SOURCE"
      oag_as_service members import "$HANDED" --config "$CONF/gateway.yaml" || { done_handover; die "the member list $MEMBERS_SOURCE was not imported (above)"; }
      done_handover
      ;;
  esac
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
  # As the service will run (its user, folder and umask): the files are its to read and to make again.
  oag_as_service sounds prepare --config "$CONF/gateway.yaml" ||
    note "warning: not every sound file could be made; the gateway raises sound-failed until they are (docs/sound.md)"
}

# The unit as shipped, with the paths of this install.
render_unit() {
  sed -e "s#/usr/bin/node #$NODE_BIN #" -e "s#/opt/oag/#$APP/#g" -e "s#/etc/oag/#$CONF/#g" -e "s#^User=oag\$#User=$SVC#" -e "s#^Group=oag\$#Group=$SVC#" "$SOURCE/systemd/$1"
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
  # Central's broker with them: its new ACL and listeners are read at a restart.
  local services=("${UNITS[@]}")
  [[ $WITH_CENTRAL -eq 1 ]] && services=(mosquitto.service "${services[@]}")
  run systemctl enable "${services[@]}"
  if [[ $START -eq 0 ]]; then
    note "not started (--no-start)"
  elif [[ $booted -eq 0 && $DRY_RUN -eq 0 ]]; then
    note "systemd is not running here: the services start at the next boot"
  else
    # restart, not start: after an upgrade the new build must run. The gateway drives its outputs safe on the way.
    run systemctl restart "${services[@]}"
  fi
}

UNITS=()
[[ $WITH_GATEWAY -eq 1 ]] && UNITS+=(oag-gateway.service)
[[ $WITH_CENTRAL -eq 1 ]] && UNITS+=(oag-central.service)

umask 022
[[ $DRY_RUN -eq 1 ]] && say "Dry run: printing the actions, changing nothing"
check_platform
if [[ $CONFIG_ONLY -eq 1 ]]; then
  say "Configuration only (--config-only): no packages, app, units or boot config"
  getent passwd "$SVC" >/dev/null || [[ $DRY_RUN -eq 1 ]] || die "no user $SVC: run the full install first, or give --service-user"
else
  # System packages before npm ci: the native modules build against them.
  install_packages
  [[ $WITH_GATEWAY -eq 1 ]] && blacklist_pn533
  create_user
  install_app
fi
# The installed app's CLI; --config-only without one uses this checkout's.
if [[ $CONFIG_ONLY -eq 1 && ! -f $APP/dist/scripts/oag.js ]]; then OAG=("$NODE_BIN" "$SOURCE/bin/oag.js"); else OAG=("$NODE_BIN" "$APP/dist/scripts/oag.js"); fi
install_state_dir
install_config
[[ $WITH_GATEWAY -eq 1 ]] && install_uplink_files
[[ $WITH_CENTRAL -eq 1 ]] && install_central_keys
validate_configs
[[ $WITH_GATEWAY -eq 1 ]] && create_manager
[[ $WITH_GATEWAY -eq 1 ]] && install_members
[[ $WITH_CENTRAL -eq 1 ]] && create_admin
if [[ $CONFIG_ONLY -eq 1 ]]; then
  say "Configuration checked; nothing enabled (--config-only)"
else
  [[ $WITH_GATEWAY -eq 1 ]] && install_boot_config
  [[ $WITH_GATEWAY -eq 1 ]] && prepare_sounds
  install_units
  start_units
fi
say "Done. Logs: journalctl -u ${UNITS[0]%.service} -f   Status: systemctl status ${UNITS[*]}"
