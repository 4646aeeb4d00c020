"""Holds many connections open against a logtui listener, for the flood tests in tests/floods.rs.

Usage: flood.py tcp|http|http-partial|http-body PORT N SOURCE[,SOURCE...] [--trickle]
Opens N connections to 127.0.0.1:PORT from the given source addresses in turn (any 127.x.y.z
is this machine on Linux). tcp: the connections send nothing. http: each sends one keep-alive
GET carrying a record, then stays open. http-partial: each sends the start of a request head
and never finishes it (slowloris). http-body: each sends a whole POST head and the start of its
40,000-byte body, and never the rest. --trickle adds one connection that sends a never
complete frame a byte at a time. Prints "ready" once every connection is made, then holds them
until stdin closes.
"""
import socket
import sys
import threading
import time

kind, port, n, sources = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(",")
held = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), source_address=(sources[i % len(sources)], 0))
    if kind == "http":
        s.sendall(("GET /log?name=flood&msg=keepalive+%d HTTP/1.1\r\nHost: x\r\n\r\n" % i).encode())
    elif kind == "http-partial":
        s.sendall(b"GET /log?name=flood&msg=never+finished HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    elif kind == "http-body":
        s.sendall(b"POST /log HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 40000\r\n\r\nname=flood&msg=never")
    held.append(s)


def trickle():
    s = socket.create_connection(("127.0.0.1", port), source_address=(sources[0], 0))
    held.append(s)
    # A 1 MiB frame that never completes.
    s.sendall(b"\x00\x10\x00\x00")
    while True:
        try:
            s.sendall(b"x")
        except OSError:
            return
        time.sleep(0.05)


if "--trickle" in sys.argv:
    threading.Thread(target=trickle, daemon=True).start()
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.read()
