#!/usr/bin/env bash
# Quick start, part 1: install dependencies, build, and run vigil on its
# bundled default content. Until the sensor daemon exists this replays the
# bundled sample of host events through the default bundle and prints alerts.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
echo "== replaying rules/samples/events.jsonl through the default content ==" >&2
build/bin/vigil replay --stats --bundle build/share/vigil/default.vbundle rules/samples/events.jsonl
