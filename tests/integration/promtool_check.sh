#!/bin/sh
# Runs `promtool check metrics` (Debian: prometheus) on the /metrics sample SAMPLE_BIN prints.
# Exit 77 (skipped) when promtool is not installed.
set -eu
if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found: install Debian's prometheus package (scripts/deps test); skipping"
    exit 77
fi
"$1" > "${TMPDIR:-/tmp}/herald_metrics_sample.$$"
out=$(promtool check metrics < "${TMPDIR:-/tmp}/herald_metrics_sample.$$" 2>&1) || {
    echo "$out"; rm -f "${TMPDIR:-/tmp}/herald_metrics_sample.$$"; exit 1; }
rm -f "${TMPDIR:-/tmp}/herald_metrics_sample.$$"
# promtool prints lint findings (names, help) and still exits 0: treat any finding as failure.
if [ -n "$out" ]; then echo "$out"; exit 1; fi
echo "promtool check metrics: ok"
