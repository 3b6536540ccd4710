"""A client that asks for a 100 MB result and then reads nothing for a
while: the node's memory must stay bounded (backpressure), and the whole
result must still arrive intact afterwards.  Prints "ok ..." lines."""
import socket
import struct
import sys
import time

port, pid = int(sys.argv[1]), sys.argv[2]


def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def startup():
    body = struct.pack("!I", 196608) + b"user\0postgres\0database\0postgres\0\0"
    return struct.pack("!I", len(body) + 4) + body


s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(startup())
buf = b""
while not buf.endswith(b"Z\0\0\0\5I"):
    buf += s.recv(65536)
before = rss_kib()
q = b"select repeat('x', 1000) from generate_series(1, 100000)\0"
s.sendall(b"Q" + struct.pack("!I", len(q) + 4) + q)
time.sleep(3)
grown = rss_kib() - before
print(("ok" if grown < 8 * 1024 else "not ok") + f" node memory grew {grown} KiB while the client did not read")
rows = 0
data = b""
while True:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    data += chunk
    # walk whole messages
    while len(data) >= 5:
        t, n = data[0:1], struct.unpack("!I", data[1:5])[0]
        if len(data) < n + 1:
            break
        if t == b"D":
            rows += 1
        data = data[n + 1:]
        if t == b"Z":
            break
    else:
        continue
    if t == b"Z":
        break
print(("ok" if rows == 100000 else "not ok") + f" all {rows} rows arrived after the pause")
s.close()
