#!/usr/bin/env bash
# Attachment download benchmark (issue 6): a 5 MiB attachment fetched through its presigned
# link by wrk with 16 connections (release build), three rounds; prints aggregate throughput
# and the server's RSS (current at the end of each round, and the peak). Then ten curl clients
# download a 10 MiB attachment at once, to show memory does not grow with file size x clients.
# Needs wrk, curl, python3.
#
#   bench/attachments.sh
#   ROUNDS=5 DURATION=20s bench/attachments.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
# Below Linux's ephemeral port range, where a load run's own client sockets in TIME_WAIT
# could otherwise hold the port.
PORT=${PORT:-29128}
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
# AGENTSEND_BIN=path runs another build (to compare two builds back to back).
[ -n "${AGENTSEND_BIN:-}" ] || cargo build --release --quiet
BIN=${AGENTSEND_BIN:-$PWD/target/release/agentsend}
WORK=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

(cd "$WORK" && AGENTSEND_LOG_LEVEL=warn exec "$BIN" --db "$WORK/bench.db" \
    --listen "127.0.0.1:$PORT" --smtp-listen 127.0.0.1:0 --rate-limit 0 \
    >"$WORK/stdout" 2>"$WORK/stderr") &
SERVER=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
KEY=$(grep -o 'ask_[A-Za-z0-9_-]\{40\}' "$WORK/stdout" | head -1)
rss() { awk -v f="$1" '$1 == f":" { printf "%.0f", $2 / 1024 }' "/proc/$SERVER/status"; }

# Uploads $1 MiB of random bytes; prints the presigned URL.
upload() {
    head -c "$(($1 * 1024 * 1024))" /dev/urandom >"$WORK/file.bin"
    curl -fs -H "Authorization: Bearer $KEY" -F "file=@$WORK/file.bin;type=application/octet-stream" \
        "http://127.0.0.1:$PORT/attachments" | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])'
}

URL=$(upload 5)
echo "AgentSend attachment downloads: $(nproc) cores, 5 MiB file, wrk -t2 -c$CONNECTIONS -d$DURATION"
echo "idle RSS $(rss VmRSS) MiB"
RESULTS=()
for round in $(seq "$ROUNDS"); do
    mibs=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" "$URL" | awk '
        /Transfer\/sec/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+/, "", v);
                          f = (u == "GB") ? 1024 : (u == "MB") ? 1 : (u == "KB") ? 1 / 1024 : 1 / 1048576;
                          printf "%.0f", v * f }
        /Non-2xx/ { print "non-2xx responses: " $0 > "/dev/stderr" }')
    RESULTS+=("$mibs")
    printf 'round %d: %5d MiB/s (%5.0f MB/s)   RSS after %d MiB, peak so far %d MiB\n' \
        "$round" "$mibs" "$(awk -v m="$mibs" 'BEGIN { print m * 1.048576 }')" "$(rss VmRSS)" "$(rss VmHWM)"
done
median=$(printf '%s\n' "${RESULTS[@]}" | sort -n | awk '{a[NR]=$1} END { print a[int((NR+1)/2)] }')
printf 'median %d MiB/s = %.0f MB/s (target >= 300 MB/s); peak RSS %d MiB (target < 100 MB)\n' \
    "$median" "$(awk -v m="$median" 'BEGIN { print m * 1.048576 }')" "$(rss VmHWM)"

URL=$(upload 10)
before=$(rss VmRSS)
CLIENTS=()
for _ in $(seq 10); do curl -fs -o /dev/null --limit-rate 20M "$URL" & CLIENTS+=($!); done
peak=$before
samples=0
while :; do
    alive=0
    for c in "${CLIENTS[@]}"; do kill -0 "$c" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    now=$(rss VmRSS); [ "$now" -gt "$peak" ] && peak=$now
    samples=$((samples + 1))
    sleep 0.05
done
wait "${CLIENTS[@]}"
printf 'ten clients downloading 10 MiB each at once: RSS %d MiB before, %d MiB at most during (%d samples; whole files would add 100 MiB)\n' \
    "$before" "$peak" "$samples"
