"""Bad input on the client port: malformed frames, oversized/negative length prefixes, unknown
opcodes, invalid paths, requests before the handshake, truncated frames and a client that floods
without reading. Each must get ZooKeeper's error code or a closed connection; afterwards the
server still answers ruok, a kazoo client still works, earlier acknowledged writes are intact,
the server process is alive and its file descriptors return to the baseline (no leak).
"""
import socket
import struct
import time

import pytest
from kazoo.client import KazooClient

import zkwire
from zkwire import Conn, frame, request, ustring
from conftest import wait_for

MAXBUF = 0xFFFFF  # jute.maxbuffer default: 1 048 575


@pytest.fixture(scope="module")
def canary(server):
    """A kazoo client with acknowledged writes made before any abuse; the fd baseline."""
    c = KazooClient(hosts=server.hosts, timeout=10.0)
    c.start(timeout=15)
    c.ensure_path("/bi")
    values = {}
    for i in range(20):
        p = "/bi/canary-%02d" % i
        v = ("value %d " % i).encode() * (i + 1)
        c.create(p, v)
        values[p] = v
    base_fds = server.fd_count()
    yield c, values
    # fd leak check: once every abusive connection is closed the server returns to its baseline
    if base_fds is not None:
        wait_for(lambda: server.fd_count() <= base_fds + 2, 15,
                 "server fds back to baseline %d (now %s)" % (base_fds, server.fd_count()))
    c.stop()
    c.close()


@pytest.fixture(autouse=True)
def still_healthy(server, canary):
    yield
    assert server.alive(), "server process died"
    assert zkwire.four_letter(server.port, "ruok") == "imok"
    c, values = canary
    for p, v in values.items():
        assert c.get(p)[0] == v
    # a fresh client works too
    fresh = KazooClient(hosts=server.hosts, timeout=10.0)
    fresh.start(timeout=15)
    try:
        p = fresh.create("/bi/after-", b"ok", sequence=True)
        assert fresh.get(p)[0] == b"ok"
    finally:
        fresh.stop()
        fresh.close()


def session(server):
    c = Conn(server.port)
    to, sid, pw = c.handshake()
    assert to > 0 and sid != 0 and len(pw) == 16
    return c


# --------------------------------------------------------------------------- length prefixes

@pytest.mark.parametrize("length", [MAXBUF + 1, 0x7FFFFFFF, -1, -100])
def test_bad_length_before_handshake_closes(server, length):
    c = Conn(server.port)
    c.send(struct.pack(">i", length) + b"\0" * 64)
    assert c.wait_closed(10), "server kept the connection open after length %d" % length
    c.close()


@pytest.mark.parametrize("length", [MAXBUF + 1, 0x01000000, -1, -7])
def test_bad_length_after_handshake_closes(server, length):
    c = session(server)
    c.send(struct.pack(">i", length) + b"\0" * 64)
    assert c.wait_closed(10), "server kept the connection open after length %d" % length
    c.close()


def test_frame_at_max_buffer_is_accepted(server):
    # A setData whose frame is just below jute.maxbuffer is a legal frame.
    c = session(server)
    _, _, err, _ = c.call(1, zkwire.OP_CREATE, zkwire.create_body("/bi/bigframe", b"", 0))
    assert err == 0
    hdr = struct.pack(">ii", 2, zkwire.OP_SETDATA)
    path = ustring("/bi/bigframe")
    room = 1000000 - len(hdr) - len(path) - 4 - 4
    body = hdr + path + ustring(b"x" * room) + struct.pack(">i", -1)
    c.send(frame(body))
    rxid, zxid, err, rest = c.reply()
    assert (rxid, err) == (2, 0)
    c.close()


# --------------------------------------------------------------------------- malformed frames

def test_garbage_frame_after_handshake(server):
    # A 3-byte frame cannot even hold a RequestHeader. ZooKeeper closes the connection.
    c = session(server)
    c.send(frame(b"\x01\x02\x03"))
    assert c.wait_closed(10)
    c.close()


def test_truncated_request_body_after_handshake(server):
    # getData whose path string claims 100 bytes but the frame ends after 5.
    c = session(server)
    c.send(request(1, zkwire.OP_GETDATA, struct.pack(">i", 100) + b"/abcd"))
    r = read_reply_or_close(c)
    # ZooKeeper: the body fails to deserialise; it answers header-only MarshallingError (-5)
    # for that xid and keeps the connection open
    assert r is not None, "connection closed instead of a MarshallingError reply"
    assert (r[0], r[2], r[3]) == (1, zkwire.ZMARSHALLINGERROR, b""), r
    _, _, err, _ = c.call(2, zkwire.OP_EXISTS, zkwire.path_watch_body("/bi"))
    assert err == 0
    c.close()


def read_reply_or_close(c, timeout=10):
    """The next reply (xid, zxid, err, body), or None if the server closed the connection."""
    c.sock.settimeout(timeout)
    try:
        return c.reply()
    except zkwire.Closed:
        return None


def test_unknown_opcode_gets_unimplemented_then_close(server):
    c = session(server)
    r = read_reply_or_close_after(c, request(7, 999, b"\0" * 8))
    assert r is not None, "no reply to an unknown opcode"
    assert (r[0], r[2]) == (7, zkwire.ZUNIMPLEMENTED), r
    assert c.wait_closed(10), "ZooKeeper closes the connection after Unimplemented"
    c.close()


def read_reply_or_close_after(c, data):
    c.send(data)
    return read_reply_or_close(c)


def test_unknown_opcode_after_good_requests(server):
    # Surprise: ZooKeeper answers an unknown opcode straight from the I/O thread
    # (UnimplementedRequestProcessor), so its -6 reply can overtake the replies to requests
    # pipelined before it, and the close may discard those. So only check: the -6 reply arrives,
    # any other reply is the right one for its xid, and the connection is closed.
    c = session(server)
    c.send(request(1, zkwire.OP_EXISTS, zkwire.path_watch_body("/bi")) +
           request(2, zkwire.OP_EXISTS, zkwire.path_watch_body("/bi/none")) +
           request(3, 12345))
    replies = {}
    while True:
        r = read_reply_or_close(c)
        if r is None:
            break
        replies[r[0]] = r[2]
    assert replies.get(3) == zkwire.ZUNIMPLEMENTED, replies
    assert replies.get(1, 0) == 0 and replies.get(2, zkwire.ZNONODE) == zkwire.ZNONODE, replies
    assert set(replies) <= {1, 2, 3}
    c.close()


def test_request_before_handshake(server):
    # The first frame is a getData, not a ConnectRequest: the server must not treat it as a
    # session request; ZooKeeper closes the connection.
    c = Conn(server.port)
    c.send(request(1, zkwire.OP_GETDATA, zkwire.path_watch_body("/bi/canary-00")))
    got = b""
    closed = False
    deadline = time.monotonic() + 10
    c.sock.settimeout(1)
    while time.monotonic() < deadline:
        try:
            d = c.sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            closed = True
            break
        if not d:
            closed = True
            break
        got += d
    assert closed, "connection still open 10 s after a non-connect first frame"
    assert b"value 0" not in got, "server answered a getData sent before the handshake"
    c.close()


def test_short_connect_request(server):
    # a ConnectRequest cut short (20 of 44 bytes) in a complete frame
    c = Conn(server.port)
    c.send(frame(b"\0" * 20))
    assert c.wait_closed(10)
    c.close()


@pytest.mark.parametrize("when", ["handshake", "request"])
def test_truncated_frame_then_disconnect(server, when):
    # the client announces 100 bytes, sends 10 and disappears
    if when == "handshake":
        c = Conn(server.port)
    else:
        c = session(server)
    c.send(struct.pack(">i", 100) + b"\0" * 10)
    c.close()
    # and one that stays connected with the partial frame: the server must keep serving others
    c2 = session(server) if when == "request" else Conn(server.port)
    c2.send(struct.pack(">i", 100) + b"\0" * 10)
    assert zkwire.four_letter(server.port, "ruok") == "imok"
    c2.close()


# --------------------------------------------------------------------------- invalid paths (raw)

# ZooKeeper checks that the parent exists (NoNode) before it validates the full path
# (BadArguments): "/bi//x" has parent "/bi/" and "/bi/./x" has parent "/bi/.", which never
# exist, so those get -101, not -8.
@pytest.mark.parametrize("path,expected", [
    ("/bi/", -8), ("/bi/pp/", -8), ("/bi/pp/.", -8), ("/bi/pp/..", -8), ("/bi/.", -8),
    ("/bi/a\x01", -8), ("/bi/a\x00b", -8), ("relative", -8), ("", -8),
    ("/bi//x", -101), ("/bi/./x", -101), ("/bi/nope/x/", -101)])
def test_create_invalid_path(server, path, expected):
    c = session(server)
    _, _, err, _ = c.call(1, zkwire.OP_CREATE, zkwire.create_body("/bi/pp", b"", 0))
    assert err in (0, -110)
    _, _, err, _ = c.call(2, zkwire.OP_CREATE, zkwire.create_body(path, b"", 0))
    assert err == expected, (path, err)
    # the connection stays usable after an error reply
    _, _, err, _ = c.call(3, zkwire.OP_EXISTS, zkwire.path_watch_body("/bi"))
    assert err == 0
    c.close()


def test_bad_create_flags_and_reserved_delete(server):
    c = session(server)
    _, _, err, _ = c.call(1, zkwire.OP_CREATE, zkwire.create_body("/bi/flags", b"", 77))
    assert err == zkwire.ZBADARGUMENTS
    _, _, err, _ = c.call(2, zkwire.OP_DELETE, ustring("/zookeeper") + struct.pack(">i", -1))
    assert err == zkwire.ZBADARGUMENTS
    # reads of malformed paths are simply NoNode in ZooKeeper
    _, _, err, _ = c.call(3, zkwire.OP_GETDATA, zkwire.path_watch_body("/bi/"))
    assert err == zkwire.ZNONODE
    c.close()


# --------------------------------------------------------------------------- flood

def test_flood_without_reading(server, canary):
    """50 000 pipelined getData requests from a client that never reads. The server must not
    crash or stall other clients; when the flooder goes away the server recovers."""
    c = session(server)
    c.sock.setblocking(False)
    req = request(1, zkwire.OP_GETDATA, zkwire.path_watch_body("/bi/canary-19"))
    blob = b"".join(req[:4] + struct.pack(">i", i + 1) + req[8:] for i in range(50000))
    sent = 0
    deadline = time.monotonic() + 10
    stuck_since = None
    while sent < len(blob) and time.monotonic() < deadline:
        try:
            n = c.sock.send(blob[sent:sent + 65536])
            sent += n
            stuck_since = None
        except BlockingIOError:
            # the server stopped reading from us (backpressure) - that's allowed
            if stuck_since is None:
                stuck_since = time.monotonic()
            elif time.monotonic() - stuck_since > 2:
                break
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            break  # the server dropped the flooder - also allowed
    # while the flooder is connected (unread replies piling up) others are served promptly
    kc, values = canary
    t0 = time.monotonic()
    kc.set("/bi/canary-00", values["/bi/canary-00"])
    assert kc.get("/bi/canary-19")[0] == values["/bi/canary-19"]
    assert time.monotonic() - t0 < 5, "other clients stalled by the flooder"
    assert zkwire.four_letter(server.port, "ruok") == "imok"
    c.close()
