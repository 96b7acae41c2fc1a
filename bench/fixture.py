#!/usr/bin/env python3
"""Fixture benchmark: how long `agentsend fixture` takes from start to its ready line (median of
RUNS), the idle RSS of a ready fixture, and the total overhead of a suite whose every test
starts and stops its own fixture (SUITE runs in a row). Release build; only 127.0.0.1.

    bench/fixture.sh                  # 20 starts, a suite of 100
    RUNS=50 SUITE=200 bench/fixture.sh
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BIN = os.environ["AGENTSEND_BIN"]
RUNS = int(os.environ.get("RUNS", "20"))
SUITE = int(os.environ.get("SUITE", "100"))


def start(tmp):
    """Starts a fixture; returns (process, ready, seconds to the ready line)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [BIN, "fixture"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.environ.get("PATH", ""), "TMPDIR": tmp},
        cwd=tmp,
    )
    line = p.stdout.readline()
    elapsed = time.perf_counter() - t0
    return p, json.loads(line), elapsed


def stop(p):
    p.stdin.close()
    if p.wait(timeout=30) != 0:
        sys.exit(f"the fixture exited with {p.returncode}")


def rss_kib(pid):
    """VmRSS and RssAnon (the process's own memory, without the binary's shared code pages)."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon"):
                fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["RssAnon"]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        times, rss, anon = [], [], []
        for _ in range(RUNS):
            p, ready, elapsed = start(tmp)
            assert ready["apiKey"].startswith("ask_")
            times.append(elapsed * 1000)
            time.sleep(0.5)  # idle
            total, own = rss_kib(p.pid)
            rss.append(total / 1024)
            anon.append(own / 1024)
            stop(p)
        t0 = time.perf_counter()
        for _ in range(SUITE):
            p, _, _ = start(tmp)
            stop(p)
        suite = time.perf_counter() - t0
        left = [n for n in os.listdir(tmp) if n.startswith("agentsend-fixture-")]
    print(f"AgentSend fixture benchmark: {os.cpu_count()} cores, {RUNS} starts, a suite of {SUITE}")
    print(f"start to ready: median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f} ms, max {max(times):.1f} ms (target median < 100 ms)")
    print(f"idle RSS of a ready fixture: median {statistics.median(rss):.1f} MiB (target < 20 MB), "
          f"of which its own memory (RssAnon) {statistics.median(anon):.1f} MiB; the rest is the "
          f"binary's code, shared by every fixture")
    print(f"a suite of {SUITE} tests each starting and stopping its own fixture: "
          f"{suite:.2f} s in all, {suite / SUITE * 1000:.0f} ms per test")
    print(f"fixture directories left behind: {len(left)}")


main()
