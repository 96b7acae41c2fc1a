#!/usr/bin/env bash
# Fuzzes the API against its own OpenAPI document with schemathesis (property-based: every
# check, every phase, a bounded number of examples per operation) and fails on any failure.
#
#   tests/fuzz/run.sh [BINARY] [extra schemathesis options]
#
# BINARY defaults to the debug build that `cargo test` leaves in the target directory. It is
# started as a throw-away fixture (own database, free ports, rate limiting off, mail dry-run).
# FUZZ_MAX_EXAMPLES (default 100) bounds the examples per operation and phase.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${1:-${CARGO_TARGET_DIR:-target}/debug/agentsend}
[ $# -gt 0 ] && shift
work=$(mktemp -d)
fixture=
dns=
cleanup() {
    # SIGTERM, then wait: the fixture removes its directory on the way out.
    for pid in $fixture $dns; do
        { kill "$pid" && wait "$pid"; } 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# Domain checks and webhook deliveries to the fuzzer's made-up hosts ask a DNS server on
# loopback that says NXDOMAIN to everything: fast, and nothing goes to the internet.
python3 tests/fuzz/nxdomain.py >"$work/dns.port" &
dns=$!
for _ in $(seq 50); do [ -s "$work/dns.port" ] && break; sleep 0.1; done

# stdin from /dev/null: the fixture runs until it is sent SIGTERM (see README, fixture).
AGENTSEND_DNS_NAMESERVERS="[\"127.0.0.1:$(cat "$work/dns.port")\"]" \
    "$bin" fixture --ready-file "$work/ready.json" </dev/null >/dev/null 2>"$work/server.log" &
fixture=$!
for _ in $(seq 100); do
    [ -s "$work/ready.json" ] && break
    kill -0 "$fixture" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done
read -r http key < <(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(r["http"], r["apiKey"])' "$work/ready.json")

# The stock positive_data_acceptance and negative_data_rejection checks are replaced by the
# ones in hooks.py. The event
# streams are left out: a request/response fuzzer cannot read a stream that does not end (nor
# speak WebSocket); tests/api/events.rs covers their refusals of bad input.
SCHEMATHESIS_HOOKS=tests/fuzz/hooks.py python3 -c 'from schemathesis.cli import schemathesis; schemathesis()' \
    run "$http/openapi.json" \
    --checks all --exclude-checks positive_data_acceptance,negative_data_rejection \
    --header "Authorization: Bearer $key" \
    --max-examples "${FUZZ_MAX_EXAMPLES:-100}" \
    --exclude-path /events --exclude-path /ws \
    "$@"
