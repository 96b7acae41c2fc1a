"""A DNS server on loopback for the fuzzed fixture: every question is answered at once with
NXDOMAIN, so domain checks and webhook deliveries to the fuzzer's made-up hosts fail fast and
nothing asks the internet. Prints its port, then serves until killed."""

import socket

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
while True:
    query, client = sock.recvfrom(4096)
    if len(query) < 12:
        continue
    # The question: the name's labels up to the empty one, then type and class.
    end = 12
    while end < len(query) and query[end] != 0:
        end += 1 + query[end]
    question = query[12 : end + 5]
    # QR, the query's opcode and RD; RA; RCODE 3 (NXDOMAIN). One question, no records.
    flags = bytes([0x80 | (query[2] & 0x79), 0x80 | 3])
    sock.sendto(query[:2] + flags + b"\x00\x01" + b"\x00" * 6 + question, client)
