"""Minimal raw ZooKeeper wire helpers for the compatibility tests (jute framing by hand).

Only what the tests need: frames, the ConnectRequest handshake, a few request bodies, and
four-letter words. Every read has a bounded timeout; "closed" means the peer sent EOF or RST.
"""
import socket
import struct
import time

OP_CREATE, OP_DELETE, OP_EXISTS, OP_GETDATA, OP_SETDATA = 1, 2, 3, 4, 5
OP_GETCHILDREN, OP_SYNC, OP_PING, OP_CLOSE = 8, 9, 11, -11

ZNONODE = -101
ZUNIMPLEMENTED = -6
ZMARSHALLINGERROR = -5
ZBADARGUMENTS = -8


def ustring(s):
    if s is None:
        return struct.pack(">i", -1)
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">i", len(b)) + b


buffer = ustring


def frame(body):
    return struct.pack(">i", len(body)) + body


def connect_request(timeout_ms=10000, session_id=0, passwd=b"\0" * 16, last_zxid=0, ro=True):
    body = struct.pack(">iqiq", 0, last_zxid, timeout_ms, session_id) + buffer(passwd)
    if ro:
        body += b"\0"
    return frame(body)


def request(xid, op, body=b""):
    return frame(struct.pack(">ii", xid, op) + body)


OPEN_ACL = struct.pack(">i", 1) + struct.pack(">i", 31) + ustring("world") + ustring("anyone")


def create_body(path, data=b"", flags=0):
    return ustring(path) + buffer(data) + OPEN_ACL + struct.pack(">i", flags)


def path_watch_body(path, watch=False):
    return ustring(path) + (b"\1" if watch else b"\0")


class Closed(Exception):
    pass


class Conn:
    """A raw client connection. recv_frame() raises Closed on EOF/RST, socket.timeout on silence."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            try:
                d = self.sock.recv(65536)
            except ConnectionResetError:
                raise Closed("reset")
            if not d:
                raise Closed("eof")
            self.buf += d

    def recv_frame(self):
        self._fill(4)
        (n,) = struct.unpack(">i", self.buf[:4])
        self._fill(4 + n)
        body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return body

    def handshake(self, timeout_ms=10000, session_id=0, passwd=b"\0" * 16):
        self.send(connect_request(timeout_ms, session_id, passwd))
        body = self.recv_frame()
        proto, to, sid, plen = struct.unpack(">iiqi", body[:20])
        self.session_id, self.timeout, self.passwd = sid, to, body[20:20 + plen]
        return to, sid, self.passwd

    def call(self, xid, op, body=b""):
        """Send one request, return (xid, zxid, err, body) of the next non-notification reply."""
        self.send(request(xid, op, body))
        return self.reply()

    def reply(self):
        while True:
            b = self.recv_frame()
            rxid, zxid, err = struct.unpack(">iqi", b[:16])
            if rxid != -1:
                return rxid, zxid, err, b[16:]

    def wait_closed(self, timeout=10.0):
        """True if the server closes the connection within timeout (data received meanwhile is
        discarded), False if it is still open."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not d:
                return True
        return False

    def ping_ok(self, timeout=10.0):
        """Send a ping; True if its reply arrives, False if the server has closed the connection.
        (Deterministic where the server closes before it answers some other connection.)"""
        try:
            self.send(request(-2, OP_PING))
            self.sock.settimeout(timeout)
            while True:
                b = self.recv_frame()
                if struct.unpack(">i", b[:4])[0] == -2:
                    return True
        except (Closed, BrokenPipeError, ConnectionResetError):
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def four_letter(port, cmd, timeout=10.0):
    """Send a four-letter word and read until the server closes the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(cmd.encode() if isinstance(cmd, str) else cmd)
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                return out.decode("utf-8", "replace")
            out += d
    finally:
        s.close()
