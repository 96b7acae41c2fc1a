#!/usr/bin/env bash
# Fixture benchmark: start-to-ready time of `agentsend fixture`, its idle RSS, and the overhead
# of a suite where every test starts its own (see bench/fixture.py). Needs python3.
#
#   bench/fixture.sh
#   RUNS=50 SUITE=200 bench/fixture.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# AGENTSEND_BIN=path runs another build (to compare two builds back to back).
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
export AGENTSEND_BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
exec python3 bench/fixture.py
