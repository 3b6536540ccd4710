"""Send malformed input to a node while a healthy session keeps working.
Each case prints "ok NAME" when the node answered with an ErrorResponse
or closed the socket (never hung, never took the healthy session down)."""
import socket
import struct
import sys

import psycopg

port = int(sys.argv[1])


def startup(user=b"postgres", db=b"postgres", version=196608, extra=b""):
    body = struct.pack("!I", version) + b"user\0" + user + b"\0database\0" + db + b"\0" + extra + b"\0"
    return struct.pack("!I", len(body) + 4) + body


def send(raw, after_login=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        if after_login is not None:
            s.sendall(startup(b"postgres", b"postgres"))
            buf = b""
            while not buf.endswith(b"Z\0\0\0\5I"):
                chunk = s.recv(65536)
                if not chunk:
                    return "closed"
                buf += chunk
            raw = after_login
        s.sendall(raw)
        if raw is cases.get("truncated then EOF"):
            s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return "error" if b"E" in data[:1] or b"08P01" in data or b"SFATAL" in data else "closed"
    except socket.timeout:
        return "hung"
    except ConnectionResetError:
        return "closed"
    finally:
        s.close()


cases = {
    "length below 4": struct.pack("!I", 3),
    "absurd startup length": struct.pack("!I", 0x7FFFFFFF) + b"xxxx",
    "protocol 2": startup(version=131072),
    "no terminator": struct.pack("!I", 20) + struct.pack("!I", 196608) + b"user\0postgres",
    "no user": struct.pack("!I", 9) + struct.pack("!I", 196608) + b"\0",
    "invalid utf8 user": startup(user=b"\xc3\x28"),
    "bytes after SSLRequest": struct.pack("!II", 8, 80877103) + b"garbage",
    "truncated then EOF": startup()[:7],
}
after_login = {
    "unknown message type": b"\x01\0\0\0\4",
    "length below 4": b"Q\0\0\0\3",
    "absurd length": b"Q\x7f\xff\xff\xff",
    "sync with a body": b"S\0\0\0\5x",
    "backend-only type": b"Z\0\0\0\5I",
}

healthy = psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True)
for name, raw in cases.items():
    r = send(raw)
    print(("ok " if r in ("error", "closed") else "not ok ") + "startup: " + name + " -> " + r)
for name, raw in after_login.items():
    r = send(None, after_login=raw)
    print(("ok " if r in ("error", "closed") else "not ok ") + "session: " + name + " -> " + r)
cur = healthy.cursor()
cur.execute("select 42")
print("ok healthy session still works" if cur.fetchone() == (42,) else "not ok healthy session")
