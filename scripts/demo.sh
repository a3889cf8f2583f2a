#!/usr/bin/env bash
# Set up .venv with everything and run the main job on the built-in defaults: `loadcheck demo`.
# Extra arguments go to `loadcheck demo` (for example --quick or --keep-serving).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh all
exec .venv/bin/loadcheck demo "$@"
