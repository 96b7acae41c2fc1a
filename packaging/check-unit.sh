#!/usr/bin/env bash
# Checks packaging/agentsend.service with `systemd-analyze verify`. The unit's binary path
# (/usr/local/bin/agentsend) need not exist here: a copy with /bin/true in its place is checked.
# Skips (exit 0) where systemd-analyze is not installed.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "check-unit: systemd-analyze not found; skipped"
    exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed 's#^ExecStart=/usr/local/bin/agentsend #ExecStart=/bin/true #' agentsend.service >"$dir/agentsend.service"
grep -q '^ExecStart=/bin/true ' "$dir/agentsend.service"
systemd-analyze verify "$dir/agentsend.service"
echo "check-unit: packaging/agentsend.service verified"
