#!/usr/bin/env python3
"""Large-message and large-upload floods against a running server (used by bench/memory.sh).

Phase "smtp": SMTP_CLIENTS sessions at once each send a SMTP_MB MiB message to INBOX_ADDRESS,
ROUNDS times. Phase "uploads": UPLOAD_CLIENTS clients at once each POST a UPLOAD_MB MiB file to
/attachments, ROUNDS times. The server's RSS is sampled every 20 ms. Prints one JSON object per
phase: replies by code, peak RSS, RSS a second after.
"""

import http.client
import json
import os
import smtplib
import sys
import threading
import time
import uuid

PORT = int(os.environ["PORT"])
SMTP_PORT = int(os.environ["SMTP_PORT"])
PID = int(os.environ["SERVER_PID"])
KEY = os.environ["KEY"]
RCPT = os.environ["INBOX_ADDRESS"]
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def rss_mib():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sampler(stop, peak):
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mib())
        time.sleep(0.02)


def run_phase(name, clients, work):
    stop = threading.Event()
    peak = [rss_mib()]
    sampling = threading.Thread(target=sampler, args=(stop, peak))
    sampling.start()
    codes = {}
    lock = threading.Lock()

    def client(n):
        for r in range(ROUNDS):
            code = work(n, r)
            with lock:
                codes[str(code)] = codes.get(str(code), 0) + 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    time.sleep(1)
    stop.set()
    sampling.join()
    return {
        "phase": name,
        "clients": clients,
        "seconds": round(elapsed, 1),
        "replies": codes,
        "peak_rss_mib": round(peak[0], 1),
        "rss_after_mib": round(rss_mib(), 1),
    }


def smtp_message(mib):
    line = b"x" * 998 + b"\r\n"
    body = line * (mib * 1024 * 1024 // len(line))
    return b"From: a@example.com\r\nSubject: big\r\n\r\n" + body


def smtp_work(message):
    def work(n, r):
        try:
            with smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=600) as s:
                s.ehlo("bench.example")
                code, _ = s.mail("a@example.com")
                s.rcpt(RCPT)
                code, _ = s.data(message)
                return code
        except smtplib.SMTPDataError as e:
            return e.smtp_code
        except smtplib.SMTPResponseException as e:
            return e.smtp_code
        except Exception as e:  # noqa: BLE001
            return type(e).__name__

    return work


def upload_work(mib):
    content = os.urandom(mib * 1024 * 1024)

    def work(n, r):
        boundary = uuid.uuid4().hex
        body = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"f{n}-{r}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
            conn.request(
                "POST",
                "/attachments",
                body=body,
                headers={
                    "Authorization": f"Bearer {KEY}",
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
            res = conn.getresponse()
            res.read()
            conn.close()
            return res.status
        except Exception as e:  # noqa: BLE001
            return type(e).__name__

    return work


def main():
    phases = sys.argv[1:] or ["smtp", "uploads"]
    for phase in phases:
        if phase == "smtp":
            mib = int(os.environ.get("SMTP_MB", "20"))
            clients = int(os.environ.get("SMTP_CLIENTS", "8"))
            result = run_phase("smtp", clients, smtp_work(smtp_message(mib)))
            result["message_mib"] = mib
        else:
            mib = int(os.environ.get("UPLOAD_MB", "10"))
            clients = int(os.environ.get("UPLOAD_CLIENTS", "12"))
            result = run_phase("uploads", clients, upload_work(mib))
            result["file_mib"] = mib
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
