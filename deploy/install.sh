#!/bin/sh
# Installs the fedmq agent from this unpacked bundle and runs it as a systemd service:
#   /opt/fedmq                        the bundle (Node, the CLI, wasm and ONNX runtimes); replaced on upgrade
#   /etc/fedmq/agent.env              broker, device id, data, password (root:fedmq 0640); kept on upgrade
#   /etc/systemd/system/fedmq-agent.service
#   /var/lib/fedmq                    the agent's state (StateDirectory=), owned by the fedmq user
#
#   sudo ./install.sh [--broker URL] [--id ID] [--data SOURCE] [--args "FLAGS"] [--no-start]
#   sudo ./install.sh --uninstall [--purge]     (--purge also deletes /etc/fedmq, /var/lib/fedmq and the user)
#
# DESTDIR=/some/dir ./install.sh ... writes every file under that directory instead of / and
# creates no user, runs no systemctl (a packaging or test run; no root needed).
set -eu

PREFIX=/opt/fedmq
ENV_FILE=/etc/fedmq/agent.env
UNIT=fedmq-agent.service
UNIT_DIR=/etc/systemd/system
USER_NAME=fedmq
DEST="${DESTDIR:-}"

here=$(cd "$(dirname "$0")" && pwd)
broker="" id="" data="" args="" start=yes uninstall=no purge=no

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --broker) [ $# -ge 2 ] || die "--broker needs a URL"; broker=$2; shift 2 ;;
    --id) [ $# -ge 2 ] || die "--id needs a device id"; id=$2; shift 2 ;;
    --data) [ $# -ge 2 ] || die "--data needs a file, folder or mnist:..."; data=$2; shift 2 ;;
    --args) [ $# -ge 2 ] || die "--args needs flags"; args=$2; shift 2 ;;
    --no-start) start=no; shift ;;
    --uninstall) uninstall=yes; shift ;;
    --purge) purge=yes; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage 2 >&2 ;;
  esac
done

live() { [ -z "$DEST" ]; }
if live && [ "$(id -u)" -ne 0 ]; then die "run as root (sudo $0 $*), or with DESTDIR=DIR to stage the files"; fi
if live && ! command -v systemctl >/dev/null 2>&1; then die "systemctl not found: this installs a systemd service"; fi

systemctl_() { if live; then systemctl "$@"; else say "(DESTDIR) would run: systemctl $*"; fi; }

# ---- uninstall ---------------------------------------------------------------------------------
if [ "$uninstall" = yes ]; then
  if live; then systemctl disable --now "$UNIT" 2>/dev/null || true; fi
  rm -f "$DEST$UNIT_DIR/$UNIT"
  systemctl_ daemon-reload
  rm -rf "$DEST$PREFIX"
  say "removed $PREFIX and $UNIT_DIR/$UNIT"
  if [ "$purge" = yes ]; then
    rm -rf "$DEST/etc/fedmq" "$DEST/var/lib/fedmq" "$DEST/var/lib/private/fedmq"
    if live && id "$USER_NAME" >/dev/null 2>&1; then userdel "$USER_NAME" 2>/dev/null || deluser "$USER_NAME" 2>/dev/null || true; fi
    say "purged /etc/fedmq, /var/lib/fedmq and the $USER_NAME user"
  else
    say "kept /etc/fedmq (configuration) and /var/lib/fedmq (state); --uninstall --purge removes them"
  fi
  exit 0
fi

# ---- install -----------------------------------------------------------------------------------
[ -x "$here/bin/node" ] && [ -f "$here/lib/cli/fedmq.mjs" ] || die "run install.sh from an unpacked fedmq-agent bundle ($here has no bin/node or lib/cli/fedmq.mjs)"
if live; then
  # The bundle's Node must run on this board (right CPU, new enough glibc) before anything is replaced.
  version=$("$here/bin/fedmq-agent" --version 2>&1) || die "the bundled Node does not run on this machine ($(uname -m)): $version"
else
  version=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$here/package.json" | head -n 1)
fi

# 1. The unprivileged user the service runs as (no login, no home of its own beyond the state dir).
if live && ! id "$USER_NAME" >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/fedmq --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
  else
    addgroup -S "$USER_NAME" && adduser -S -D -H -h /var/lib/fedmq -s /sbin/nologin -G "$USER_NAME" "$USER_NAME"
  fi
  say "created system user $USER_NAME"
fi

# 2. The bundle, swapped in whole: a failed copy leaves the previous version in place.
mkdir -p "$DEST$(dirname "$PREFIX")"
rm -rf "$DEST$PREFIX.new"
mkdir -p "$DEST$PREFIX.new"
cp -R "$here/bin" "$here/lib" "$here/licenses" "$here/package.json" "$here/README.md" "$here/install.sh" "$here/$UNIT" "$DEST$PREFIX.new/"
chmod -R u+rwX,go+rX,go-w "$DEST$PREFIX.new"
rm -rf "$DEST$PREFIX.old"
if [ -e "$DEST$PREFIX" ]; then mv "$DEST$PREFIX" "$DEST$PREFIX.old"; fi
mv "$DEST$PREFIX.new" "$DEST$PREFIX"
rm -rf "$DEST$PREFIX.old"
say "installed fedmq $version in $PREFIX"

# 3. The configuration, written once: an upgrade keeps it.
env_path="$DEST$ENV_FILE"
if [ -e "$env_path" ]; then
  say "kept $ENV_FILE"
  [ -z "$broker$id$data$args" ] || say "note: --broker/--id/--data/--args are ignored when $ENV_FILE exists; edit it instead"
else
  mkdir -p "$(dirname "$env_path")"
  [ -n "$id" ] || id=$(hostname 2>/dev/null | tr -c 'A-Za-z0-9_.:\n-' '-' || true)
  umask 027
  cat > "$env_path" <<ENV
# fedmq agent settings, read by fedmq-agent.service (EnvironmentFile=). After a change:
#   sudo systemctl restart fedmq-agent
# Broker URL (mqtt://HOST:1883, mqtts://..., ws://...).
FEDMQ_BROKER=$broker
# This device's id: its MQTT client id and username (letters, digits, _ . : -).
FEDMQ_ID=$id
# The device's own readings: a CSV (with a header) or NDJSON file or a folder of them, readable
# by the fedmq user (e.g. under /var/lib/fedmq/data), or mnist:PARTITION:INDEX/OF for a demo.
FEDMQ_DATA=$data
# MQTT password when the broker runs with --auth (fedmq passwd on the broker's host).
FEDMQ_PASSWORD=
# Other \`fedmq agent\` flags, e.g. --label event --window 30 --train-when charging,idle,cpu-temp<70
FEDMQ_ARGS=$args
ENV
  chmod 0640 "$env_path"
  if live; then
    chown "root:$USER_NAME" "$env_path"
    say "wrote $ENV_FILE (root:$USER_NAME 0640)"
  else
    say "wrote $ENV_FILE (0640; owner root:$USER_NAME on a real install)"
  fi
fi

# 4. The unit. RestartSteps= and RestartMaxDelaySec= (the restart backoff) need systemd 254;
#    older versions (Debian 12 and Raspberry Pi OS bookworm: 252) get a fixed RestartSec=.
systemd_version=${SYSTEMD_VERSION:-}
if [ -z "$systemd_version" ] && command -v systemctl >/dev/null 2>&1; then
  systemd_version=$(systemctl --version 2>/dev/null | sed -n '1s/^systemd \([0-9]*\).*/\1/p')
fi
mkdir -p "$DEST$UNIT_DIR"
if [ -n "$systemd_version" ] && [ "$systemd_version" -lt 254 ]; then
  sed -e '/^RestartSteps=/d' -e '/^RestartMaxDelaySec=/d' \
      -e 's/^# Restart after a crash or a lost broker, 5 s after the first failure, backing off to 5 min\./# Restart after a crash or a lost broker, every 10 s (systemd '"$systemd_version"' has no RestartSteps= backoff)./' \
      -e 's/^RestartSec=5s$/RestartSec=10s/' "$here/$UNIT" > "$DEST$UNIT_DIR/$UNIT"
else
  cp "$here/$UNIT" "$DEST$UNIT_DIR/$UNIT"
fi
chmod 0644 "$DEST$UNIT_DIR/$UNIT"
say "installed $UNIT_DIR/$UNIT"

systemctl_ daemon-reload
configured=no
if grep -q '^FEDMQ_BROKER=..*' "$env_path" && grep -q '^FEDMQ_ID=..*' "$env_path" && grep -q '^FEDMQ_DATA=..*' "$env_path"; then configured=yes; fi
if [ "$start" = yes ] && [ "$configured" = yes ]; then
  systemctl_ enable "$UNIT"
  systemctl_ restart "$UNIT"
  say "started; follow it with: journalctl -u fedmq-agent -f"
else
  systemctl_ enable "$UNIT"
  [ "$configured" = yes ] || say "set FEDMQ_BROKER, FEDMQ_ID and FEDMQ_DATA in $ENV_FILE"
  say "then: sudo systemctl start fedmq-agent && journalctl -u fedmq-agent -f"
fi
