#!/usr/bin/env bash
# Sets up what is missing (Debian packages), builds mediagate (release) and runs the gateway on
# its embedded defaults: 127.0.0.1:9000, ./data, disk storage, SQLite metadata.
# Extra arguments go to `mediagate serve`, e.g. scripts/run.sh --listen 127.0.0.1:9100
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --build-only
swift build -c release --product mediagate
exec .build/release/mediagate serve "$@"
