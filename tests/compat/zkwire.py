"""Minimal raw ZooKeeper wire helpers for the compatibility tests (jute framing by hand).

Only what the tests need: frames, the ConnectRequest handshake, request bodies (ACLs,
containers, TTL nodes, multiRead, addWatch, auth), notifications, four-letter words, and for
kazoo clients the request types kazoo 2.8 lacks (createContainer, createTTL) and closing them.
Every read has a bounded timeout; "closed" means the peer sent EOF or RST.
"""
import base64
import hashlib
import socket
import struct
import time

OP_CREATE, OP_DELETE, OP_EXISTS, OP_GETDATA, OP_SETDATA = 1, 2, 3, 4, 5
OP_GETACL, OP_SETACL, OP_GETCHILDREN, OP_SYNC, OP_PING, OP_CLOSE = 6, 7, 8, 9, 11, -11
OP_CREATE_SESSION, OP_MULTI, OP_CREATE2 = -10, 14, 15
OP_CREATE_CONTAINER, OP_DELETE_CONTAINER, OP_CREATE_TTL, OP_MULTIREAD = 19, 20, 21, 22
OP_AUTH, OP_ADDWATCH = 100, 106
XID_AUTH, XID_NOTIFICATION = -4, -1

FLAG_CONTAINER, FLAG_PERSISTENT_TTL = 4, 5
ADDWATCH_PERSISTENT, ADDWATCH_PERSISTENT_RECURSIVE = 0, 1
EV_CREATED, EV_DELETED, EV_DATA_CHANGED, EV_CHILDREN_CHANGED = 1, 2, 3, 4
PERM_READ, PERM_ALL = 1, 31

ZNONODE = -101
ZUNIMPLEMENTED = -6
ZMARSHALLINGERROR = -5
ZBADARGUMENTS = -8
ZNOAUTH, ZBADVERSION, ZNOTEMPTY, ZSESSIONEXPIRED, ZINVALIDACL = -102, -103, -111, -112, -114


def ustring(s):
    if s is None:
        return struct.pack(">i", -1)
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">i", len(b)) + b


buffer = ustring


def frame(body):
    return struct.pack(">i", len(body)) + body


def connect_request(timeout_ms=10000, session_id=0, passwd=b"\0" * 16, last_zxid=0, ro=True,
                    read_only=False):
    """ro: send the trailing readOnly flag at all; read_only: its value (the client takes
    read-only service from a member without a quorum)."""
    body = struct.pack(">iqiq", 0, last_zxid, timeout_ms, session_id) + buffer(passwd)
    if ro:
        body += b"\1" if read_only else b"\0"
    return frame(body)


def request(xid, op, body=b""):
    return frame(struct.pack(">ii", xid, op) + body)


def acl_entry(perms, scheme, ident):
    return struct.pack(">i", perms) + ustring(scheme) + ustring(ident)


def acl_vector(entries):
    """entries: [(perms, scheme, id), ...] -> jute vector<ACL>."""
    return struct.pack(">i", len(entries)) + b"".join(acl_entry(*e) for e in entries)


OPEN_ACL = acl_vector([(PERM_ALL, "world", "anyone")])


def digest_id(user, password):
    """The id of digest:user:password in an ACL (ZooKeeper's DigestAuthenticationProvider)."""
    h = hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()
    return "%s:%s" % (user, base64.b64encode(h).decode())


def create_body(path, data=b"", flags=0, acl=OPEN_ACL):
    return ustring(path) + buffer(data) + acl + struct.pack(">i", flags)


def create_ttl_body(path, data, ttl_ms, acl=OPEN_ACL):
    return create_body(path, data, FLAG_PERSISTENT_TTL, acl) + struct.pack(">q", ttl_ms)


def setacl_body(path, acl, version=-1):
    return ustring(path) + acl + struct.pack(">i", version)


def path_watch_body(path, watch=False):
    return ustring(path) + (b"\1" if watch else b"\0")


def addwatch_body(path, mode):
    return ustring(path) + struct.pack(">i", mode)


def auth_body(scheme, credential):
    return struct.pack(">i", 0) + ustring(scheme) + buffer(credential)


def multiread_body(ops):
    """MultiOperationRecord of (opcode, body) reads: a MultiHeader{type, done, err} before each,
    then the end marker {-1, true, -1}."""
    out = b"".join(struct.pack(">i?i", op, False, -1) + body for op, body in ops)
    return out + struct.pack(">i?i", -1, True, -1)


STAT = struct.Struct(">qqqqiiiqiiq")  # czxid mzxid ctime mtime version cversion aversion
#                                       ephemeralOwner dataLength numChildren pzxid


def parse_stat(b, offset=0):
    return STAT.unpack_from(b, offset)


class Closed(Exception):
    pass


class Conn:
    """A raw client connection. recv_frame() raises Closed on EOF/RST, socket.timeout on silence."""

    def __init__(self, port, timeout=10.0, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.events = []  # notifications (type, state, path) seen while waiting for replies

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

    def handshake(self, timeout_ms=10000, session_id=0, passwd=b"\0" * 16, read_only=False):
        """Returns (timeout, session id, password); self.read_only is the reply's readOnly."""
        self.send(connect_request(timeout_ms, session_id, passwd, read_only=read_only))
        body = self.recv_frame()
        proto, to, sid, plen = struct.unpack(">iiqi", body[:20])
        self.session_id, self.timeout, self.passwd = sid, to, body[20:20 + plen]
        self.read_only = body[20 + plen:21 + plen] == b"\1"
        return to, sid, self.passwd

    def call(self, xid, op, body=b""):
        """Send one request, return (xid, zxid, err, body) of the next non-notification reply."""
        self.send(request(xid, op, body))
        return self.reply()

    def reply(self):
        while True:
            b = self.recv_frame()
            rxid, zxid, err = struct.unpack(">iqi", b[:16])
            if rxid != XID_NOTIFICATION:
                return rxid, zxid, err, b[16:]
            self.events.append(self._event(b[16:]))

    @staticmethod
    def _event(b):
        etype, state, plen = struct.unpack(">iii", b[:12])
        return etype, state, b[12:12 + plen].decode()

    def auth(self, scheme, credential):
        """addAuthInfo; returns the error code of its reply (xid -4)."""
        self.send(request(XID_AUTH, OP_AUTH, auth_body(scheme, credential)))
        return self.reply()[2]

    def events_until(self, pred, timeout):
        """Collects notifications until pred(self.events) is true or timeout passes (pinging
        so the session stays alive); returns self.events."""
        deadline = time.monotonic() + timeout
        while not pred(self.events) and time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
            try:
                b = self.recv_frame()
            except socket.timeout:
                self.send(request(-2, OP_PING))
                continue
            if struct.unpack(">i", b[:4])[0] == XID_NOTIFICATION:
                self.events.append(self._event(b[16:]))
        return self.events

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


def four_letter(port, cmd, timeout=10.0, host="127.0.0.1"):
    """Send a four-letter word and read until the server closes the connection."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode() if isinstance(cmd, str) else cmd)
        chunks = []
        while True:
            d = s.recv(65536)
            if not d:
                return b"".join(chunks).decode("utf-8", "replace")
            chunks.append(d)


def four_letter_or_empty(port, cmd, timeout=10.0, host="127.0.0.1"):
    """four_letter, or "" when the connection cannot be made or breaks (a server that is down,
    not listening yet, or closing): for polling."""
    try:
        return four_letter(port, cmd, timeout, host)
    except OSError:
        return ""


def close_clients(*clients):
    """Stop and close KazooClients; one that is already stopped or broken is passed over."""
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:
            pass


# ---- request types kazoo 2.8 lacks, sent through a started KazooClient

def _kazoo_request(type_, flags, path, data, acl, ttl_ms=None):
    from kazoo.protocol.serialization import Create2
    from kazoo.security import OPEN_ACL_UNSAFE

    class Req(Create2):
        type = type_

        def serialize(self):
            b = Create2.serialize(self)
            return b + struct.pack(">q", ttl_ms) if ttl_ms is not None else b
    return Req(path, data, acl or OPEN_ACL_UNSAFE, flags)


def kazoo_create_container_async(zk, path, data=b"", acl=None):
    """createContainer (opcode 19) through kazoo; the async result gives (path, stat)."""
    res = zk.handler.async_result()
    zk._call(_kazoo_request(OP_CREATE_CONTAINER, FLAG_CONTAINER, path, data, acl), res)
    return res


def kazoo_create_ttl_async(zk, path, data, ttl_ms, acl=None):
    """createTTL (opcode 21, persistent with TTL) through kazoo; the result gives (path, stat)."""
    res = zk.handler.async_result()
    zk._call(_kazoo_request(OP_CREATE_TTL, FLAG_PERSISTENT_TTL, path, data, acl, ttl_ms), res)
    return res
