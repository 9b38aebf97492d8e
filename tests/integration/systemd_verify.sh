#!/bin/sh
# Checks packaging/herald.service with `systemd-analyze verify`, its ExecStart pointed at the
# built binary HERALD. Exit 77 (skipped) where systemd-analyze is absent or cannot run here.
set -eu
unit_src=$1
herald=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze not found (Debian: systemd); skipping"
    exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=/usr/bin/herald|ExecStart=$herald|" "$unit_src" > "$dir/herald.service"
if ! systemd-analyze --version >/dev/null 2>&1; then
    echo "systemd-analyze does not run in this environment; skipping"
    exit 77
fi
out=$(systemd-analyze verify "$dir/herald.service" 2>&1) && status=0 || status=$?
if [ "$status" -ne 0 ] || [ -n "$out" ]; then
    echo "$out"
    exit 1
fi
echo "systemd-analyze verify: ok"
