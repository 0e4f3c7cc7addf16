#!/usr/bin/env python3
"""Minimal stand-in daemon for benchmarks: answers every App query with the
vectors' Connected AppReply and discards everything else.
Usage: fake_daemon.py <socket path> <AppReply .bin (preamble included)>"""
import os, socket, sys, threading

path, reply_file = sys.argv[1], sys.argv[2]
reply = open(reply_file, "rb").read()
try:
    os.unlink(path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(64)

def recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf

def message_type(body):
    """The union tag (field 1) of the FlatBuffers root table Message."""
    try:
        root = int.from_bytes(body[0:4], "little")
        vt = root - int.from_bytes(body[root:root + 4], "little", signed=True)
        vt_len = int.from_bytes(body[vt:vt + 2], "little")
        if vt_len <= 6:
            return 0
        off = int.from_bytes(body[vt + 6:vt + 8], "little")
        return body[root + off] if off else 0
    except IndexError:
        return 0

def serve(c):
    with c:
        while True:
            head = recv_exact(c, 8)
            if head is None:
                return
            body = recv_exact(c, int.from_bytes(head[:4], "little"))
            if body is None:
                return
            if message_type(body) == 1:  # App
                try:
                    c.sendall(reply)
                except OSError:
                    return

while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
