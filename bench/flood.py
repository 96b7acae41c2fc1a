#!/usr/bin/env python3
"""Slow-connection flood against a running server (used by bench/flood.sh).

From FLOOD_ADDR, keeps CONNECTIONS connections going for FLOOD_SECONDS: each sends the head of
a POST (half with a made-up API key, half with none) and the first byte of its body, then
nothing; when the server closes it, it connects again at once. Meanwhile a client on 127.0.0.1 asks GET /health and an authenticated GET every 20 ms on one
keep-alive connection each, and the server's RSS and open file descriptors are sampled.
Prints one JSON object with the figures.
"""

import asyncio
import http.client
import json
import os
import sys
import threading
import time

PORT = int(os.environ["PORT"])
PID = int(os.environ["SERVER_PID"])
KEY = os.environ["KEY"]
PATH = os.environ["READ_PATH"]
CONNECTIONS = int(os.environ.get("CONNECTIONS", "10000"))
SECONDS = float(os.environ.get("FLOOD_SECONDS", "20"))
FLOOD_ADDR = os.environ.get("FLOOD_ADDR", "127.0.0.2")
PROBE_ONLY = os.environ.get("PROBE_ONLY") == "1"


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))], 2)


def sample_server(stop, peaks):
    while not stop.is_set():
        try:
            with open(f"/proc/{PID}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        peaks["rss_kb"] = max(peaks["rss_kb"], int(line.split()[1]))
            peaks["fds"] = max(peaks["fds"], len(os.listdir(f"/proc/{PID}/fd")))
        except OSError:
            pass
        time.sleep(0.05)


def probe(stop, path, headers, latencies, failures):
    conn = None
    while not stop.is_set():
        started = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
            conn.request("GET", path, headers=headers)
            res = conn.getresponse()
            res.read()
            if res.status != 200:
                failures.append(res.status)
            latencies.append((time.perf_counter() - started) * 1000)
        except Exception as e:  # noqa: BLE001 - any failure counts
            failures.append(str(e))
            conn = None
        time.sleep(0.02)


async def one_slow(n, results, deadline):
    auth = f"Authorization: Bearer ask_{'x' * 40}\r\n" if n % 2 == 0 else ""
    head = (
        f"POST /inboxes HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{"
    ).encode()
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", PORT, local_addr=(FLOOD_ADDR, 0)
            )
        except OSError:
            results["refused"] += 1
            await asyncio.sleep(0.1)
            continue
        results["opened"] += 1
        try:
            writer.write(head)
            await writer.drain()
            left = max(0.0, deadline - loop.time())
            data = await asyncio.wait_for(reader.read(64), timeout=left)
            if data.startswith(b"HTTP/1.1 408"):
                results["answered 408"] += 1
            elif data == b"":
                results["closed unanswered"] += 1
            else:
                results["answered otherwise"] += 1
        except asyncio.TimeoutError:
            results["held to the end"] += 1
        except OSError:
            results["reset"] += 1
        finally:
            writer.close()


async def flood(results):
    deadline = asyncio.get_running_loop().time() + SECONDS
    tasks = []
    for n in range(CONNECTIONS):
        tasks.append(asyncio.create_task(one_slow(n, results, deadline)))
        if n % 200 == 199:
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)


def main():
    stop = threading.Event()
    peaks = {"rss_kb": 0, "fds": 0}
    health, read, failures = [], [], []
    threads = [
        threading.Thread(target=sample_server, args=(stop, peaks)),
        threading.Thread(target=probe, args=(stop, "/health", {}, health, failures)),
        threading.Thread(
            target=probe,
            args=(stop, PATH, {"Authorization": f"Bearer {KEY}"}, read, failures),
        ),
    ]
    for t in threads:
        t.start()
    results = {
        "opened": 0,
        "refused": 0,
        "answered 408": 0,
        "answered otherwise": 0,
        "closed unanswered": 0,
        "held to the end": 0,
        "reset": 0,
    }
    started = time.perf_counter()
    if PROBE_ONLY:
        time.sleep(SECONDS)
    else:
        asyncio.run(flood(results))
    elapsed = time.perf_counter() - started
    stop.set()
    for t in threads:
        t.join()
    json.dump(
        {
            "seconds": round(elapsed, 1),
            "flood": results,
            "health_p50_ms": percentile(health, 50),
            "health_p99_ms": percentile(health, 99),
            "read_p50_ms": percentile(read, 50),
            "read_p99_ms": percentile(read, 99),
            "probes": len(health) + len(read),
            "probe_failures": len(failures),
            "peak_rss_mib": round(peaks["rss_kb"] / 1024, 1),
            "peak_fds": peaks["fds"],
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
