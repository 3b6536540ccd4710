#!/usr/bin/env python3
"""Raw v3 client for read consistency strong in runs ended by Flush.

strong_flush.py PORT run QUERY
    SET pgquorum.read_consistency = strong; then Parse/Bind/Execute of QUERY
    ended by Flush, then Sync.  Prints what came after the Flush (message
    types, with row values and the SQLSTATE of an error), then what came
    after the Sync.
strong_flush.py PORT refused QUERY
    The same, then Bind/Execute/Flush and Bind/Execute/Sync of the same
    unnamed statement, then simple Queries (back to local, SELECT 1): prints what came after
    each step.  After a refused first run the server's own rule holds:
    everything up to the Sync is discarded, the Sync gets ReadyForQuery.
"""
import socket
import struct
import sys

port, mode, query = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=30)
buf = b""


def msg(t, body):
    return t + struct.pack("!I", len(body) + 4) + body


def cstr(x):
    return x.encode() + b"\0"


def next_message():
    global buf
    while len(buf) < 5 or len(buf) < 1 + struct.unpack("!I", buf[1:5])[0]:
        d = s.recv(65536)
        if not d:
            raise SystemExit("eof")
        buf += d
    n = 1 + struct.unpack("!I", buf[1:5])[0]
    m, buf = buf[:n], buf[n:]
    return m


def describe(m):
    t = m[:1].decode()
    if t == "E":
        fields = dict((f[:1], f[1:].decode()) for f in m[5:].split(b"\0") if f)
        return "E:" + fields.get(b"C", "?") + (":" + fields.get(b"M", "") if "-v" in sys.argv else "")
    if t == "D":
        n = struct.unpack("!h", m[5:7])[0]
        off, vals = 7, []
        for _ in range(n):
            ln = struct.unpack("!i", m[off:off + 4])[0]
            off += 4
            vals.append("NULL" if ln < 0 else m[off:off + ln].decode())
            off += max(ln, 0)
        return "D:" + ",".join(vals)
    return t


def until(stop, quiet=0.0):
    """Messages up to one of type stop; with quiet, also stop after that
    many seconds without a message (for a run that must answer nothing)."""
    seen = []
    s.settimeout(quiet if quiet else 30)
    try:
        while True:
            d = describe(next_message())
            seen.append(d)
            if d[:1] in stop:
                break
    except socket.timeout:
        pass
    s.settimeout(30)
    return " ".join(seen)


params = cstr("user") + cstr("postgres") + cstr("database") + cstr("postgres") + b"\0"
s.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
until("Z")
s.sendall(msg(b"Q", cstr("SET pgquorum.read_consistency = strong")))
until("Z")

bind = msg(b"B", cstr("") + cstr("") + struct.pack("!HHH", 0, 0, 0))
execute = msg(b"E", cstr("") + struct.pack("!I", 0))
s.sendall(msg(b"P", cstr("") + cstr(query) + struct.pack("!H", 0)) + bind + execute +
          msg(b"H", b""))
out = [until("CE", quiet=0 if mode == "run" else 3.0)]
if mode == "refused":
    s.sendall(bind + execute + msg(b"H", b""))
    out.append(until("", quiet=1.0) or "-")
    s.sendall(bind + execute + msg(b"S", b""))
    out.append(until("Z"))
    s.sendall(msg(b"Q", cstr("SET pgquorum.read_consistency = local")) +
              msg(b"Q", cstr("SELECT 1")))
    out.append(until("Z") + " " + until("Z"))
else:
    s.sendall(msg(b"S", b""))
    out.append(until("Z"))
print(" | ".join(out))
