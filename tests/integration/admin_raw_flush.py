#!/usr/bin/env python3
"""Raw v3 client: Parse of a view query ended by Flush, then Bind/Execute/Sync.
Prints the message types received; exits 1 on an ErrorResponse."""
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def msg(t, body): return t + struct.pack("!I", len(body) + 4) + body
def cstr(x): return x.encode() + b"\0"
params = cstr("user") + cstr("postgres") + cstr("database") + cstr("postgres") + b"\0"
s.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
buf = b""
def read_until(t):
    global buf
    seen = []
    while True:
        while len(buf) < 5 or len(buf) < 1 + struct.unpack("!I", buf[1:5])[0]:
            d = s.recv(65536)
            if not d: raise SystemExit("eof")
            buf += d
        n = 1 + struct.unpack("!I", buf[1:5])[0]
        m, buf = buf[:n], buf[n:]
        seen.append(m[:1].decode())
        if m[:1] == b"E": print("error:", m[5:]); 
        if m[:1] == b"D": print("row:", m[7:])
        if m[:1] == t: return seen
print(read_until(b"Z"))
s.sendall(msg(b"P", cstr("q1") + cstr("SELECT name FROM pgquorum.nodes WHERE id = $1") + struct.pack("!H", 0))
          + msg(b"D", b"S" + cstr("q1")) + msg(b"H", b""))
print(read_until(b"T"))
s.sendall(msg(b"B", cstr("") + cstr("q1") + struct.pack("!HH", 0, 1) + struct.pack("!I", 1) + b"2" + struct.pack("!H", 0))
          + msg(b"E", cstr("") + struct.pack("!I", 0)) + msg(b"S", b""))
r = read_until(b"Z"); print(r)
sys.exit(1 if "E" in r else 0)
