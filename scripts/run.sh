#!/usr/bin/env bash
# Quick start, part 1: install dependencies, build, and run the vigil sensor
# (vigild) in the foreground on its bundled default content, alerts as JSON
# lines on stdout. Ctrl-C stops it. Needs root (fanotify, eBPF).
#
# To see detection without a live host, replay the bundled sample instead:
#   build/bin/vigil replay --stats --bundle build/share/vigil/default.vbundle rules/samples/events.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
echo "== vigild on the default content (Ctrl-C to stop; metrics on http://127.0.0.1:9464/metrics) ==" >&2
exec build/bin/vigild --content build/share/vigil/default.vbundle --alerts -
