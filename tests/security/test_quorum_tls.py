"""zabkeeper only (integration): quorum TLS as Apache ZooKeeper configures it, on a 3-member
ensemble started through deploy/localcluster (tests/integration/ensemble.py).

Every member has sslQuorum=true, ssl.quorum.keyStore.location (its own PEM key store: key +
CN=server<i> certificate, SAN 127.0.0.1 and localhost), ssl.quorum.keyStore.type=PEM,
ssl.quorum.trustStore.location (the test CA) and ssl.quorum.trustStore.type=PEM. localcluster
gives every member the same extra lines, so the ensemble comes up with server1's store and
members 2 and 3 are then restarted, one at a time, with their own (which also shows a member
rejoining over TLS).

Checked:
  - every peer port speaks TLS and shows that member's certificate (a TLS client with a member
    certificate completes the handshake; CN=server<i>, verified against the CA and 127.0.0.1);
  - writes through every member are acknowledged and present on every member; a leader SIGKILL
    leaves a new leader that serves, with every acknowledged write and equal digests, and the
    old leader rejoins;
  - a TLS client with a rogue-CA certificate, a TLS client without a certificate, and a
    plaintext client sending a valid-looking hello (as tests/integration/test_peer_badinput.py
    forges it) to a peer port: each is refused (handshake failure or the connection closed),
    the member logs a line about it, and nothing changes (same leader, epoch, zxid, digest,
    processes).
Ports (SEC_PORT = B, localcluster's layout): client B+i, peer B+10+i, election B+20+i.
"""
import os
import re
import socket
import ssl
import struct

import pytest

from sectools import T, base_port, make_pki, ssl_context, wait_for, work_dir  # sets sys.path
from ensemble import (Ensemble, Ledger, PEER_FRAME_MAX_PROBE, closed_by_peer, hello,  # noqa: E402
                      zxid_epoch)

B = base_port(26750)
REFUSAL_LOG = r"(?i)peer.*(tls|ssl|certificate|handshake)"


def quorum_tls(pki, member):
    return ["sslQuorum=true",
            "ssl.quorum.keyStore.location=" + pki.keystore("server%d" % member),
            "ssl.quorum.keyStore.type=PEM",
            "ssl.quorum.trustStore.location=" + pki.ca,
            "ssl.quorum.trustStore.type=PEM"]


@pytest.fixture(scope="module")
def pki_q():
    return make_pki()


@pytest.fixture(scope="module")
def ens(pki_q):
    binary = os.environ.get("ZABKEEPER_BIN") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "src", "server",
        "zabkeeper")
    if not os.access(binary, os.X_OK):
        pytest.skip("zabkeeper binary not built (ZABKEEPER_BIN)")
    e = Ensemble(os.path.join(work_dir(), "cluster"), B)
    e.up(3, config=quorum_tls(pki_q, 1))
    try:
        for i in (2, 3):  # each member its own certificate
            cfg = os.path.join(e.dir, "m%d" % i, "zoo.cfg")
            with open(cfg) as f:
                text = f.read()
            with open(cfg, "w") as f:
                f.write(text.replace(pki_q.keystore("server1"), pki_q.keystore("server%d" % i)))
            e.start(i)
            e.converged()
        yield e
    finally:
        e.down()


@pytest.fixture(scope="module")
def zk(ens):
    c = ens.client()
    yield c
    c.stop()
    c.close()


def peer_tls(ens, pki, member, cert, ca="ca"):
    """A TLS connection to member's peer port presenting cert (None: no certificate)."""
    raw = socket.create_connection(("127.0.0.1", ens.peer_port(member)), T)
    try:
        s = ssl_context(pki, cert=cert, ca=ca).wrap_socket(raw)
    except BaseException:
        raw.close()
        raise
    s.settimeout(T)
    return s


def state(ens):
    zxid, digest = ens.converged()
    return {"leader": ens.leader(), "epoch": zxid_epoch(zxid), "zxid": zxid, "digest": digest,
            "pids": ens.pids()}


def check_no_effect(ens, zk, before, case):
    after = state(ens)
    assert after == before, "%s changed the ensemble: %s -> %s" % (case, before, after)
    ledger = Ledger(ens, zk, "/qtls-" + case)
    ledger.write("after")
    ens.converged()
    ledger.check_all(case)


def wait_refusal_logged(ens, member, offset, case):
    rx = re.compile(REFUSAL_LOG)

    def found():
        return [ln for ln in ens.log_since(member, offset).splitlines() if rx.search(ln)]
    try:
        lines = wait_for(found, 5, "a log line")
    except pytest.fail.Exception:
        pytest.fail("%s: member %d logged no line matching %r; it logged:\n%s" % (
            case, member, REFUSAL_LOG, ens.log_since(member, offset)[-3000:]))
    print("LOG member %d (%s): %s" % (member, case, lines[0]))


def forged_hello(ens, member):
    """A hello as another member would send it, then a frame header no member accepts (closing
    the connection once the frames before were handled: test_peer_badinput.py's probe)."""
    other = 1 if member != 1 else 2
    return hello(other, ens) + struct.pack(">I", PEER_FRAME_MAX_PROBE)


# ---------------------------------------------------------------- TLS is on

def test_peer_ports_speak_tls(ens, pki_q):
    for i in (1, 2, 3):
        ctx = ssl_context(pki_q, cert="server%d" % (i % 3 + 1))
        ctx.check_hostname = True
        with socket.create_connection(("127.0.0.1", ens.peer_port(i)), T) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                subject = dict(x[0] for x in s.getpeercert()["subject"])
                assert subject["commonName"] == "server%d" % i, subject


def test_writes_through_every_member(ens, zk):
    ledger = Ledger(ens, zk, "/qtls-writes")
    for i in (1, 2, 3):
        with ens.member_client(i) as c:
            c.ensure_path("/qtls-writes")
            p = c.create("/qtls-writes/m%d-" % i, b"via %d" % i, sequence=True)
            ledger.acked[p] = b"via %d" % i
    ledger.write("more")
    ens.converged()
    ledger.check_all("writes through every member")


# ---------------------------------------------------------------- refusals on the peer port

def test_rogue_ca_peer_refused(ens, zk, pki_q):
    before = state(ens)
    for i in (1, 2, 3):
        off = ens.log_size(i)
        try:
            s = peer_tls(ens, pki_q, i, "rogue-server", ca=None)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
            print("member %d: handshake refused: %s" % (i, e))
        else:  # TLS 1.3: the server's verdict on our certificate comes after our handshake
            with s:
                try:
                    s.sendall(forged_hello(ens, i))
                except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                    pass
                assert closed_by_peer(s, 5), "member %d kept a rogue-CA connection open" % i
        wait_refusal_logged(ens, i, off, "rogue CA")
    check_no_effect(ens, zk, before, "rogue")


def test_peer_without_certificate_refused(ens, zk, pki_q):
    before = state(ens)
    for i in (1, 2, 3):
        off = ens.log_size(i)
        try:
            s = peer_tls(ens, pki_q, i, None)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
            print("member %d: handshake refused: %s" % (i, e))
        else:
            with s:
                try:
                    s.sendall(forged_hello(ens, i))
                except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
                    pass
                assert closed_by_peer(s, 5), "member %d kept a connection without a " \
                    "certificate open" % i
        wait_refusal_logged(ens, i, off, "no certificate")
    check_no_effect(ens, zk, before, "nocert")


def test_plaintext_forged_hello_refused(ens, zk):
    before = state(ens)
    for i in (1, 2, 3):
        off = ens.log_size(i)
        with socket.create_connection(("127.0.0.1", ens.peer_port(i)), T) as s:
            try:
                s.sendall(forged_hello(ens, i))
            except (ConnectionResetError, BrokenPipeError):
                pass
            assert closed_by_peer(s, 5), "member %d kept a plaintext peer connection open" % i
        wait_refusal_logged(ens, i, off, "plaintext hello")
    check_no_effect(ens, zk, before, "plaintext")


# ---------------------------------------------------------------- failover over TLS

def test_leader_kill(ens, zk):
    ledger = Ledger(ens, zk, "/qtls-failover")
    for k in range(20):
        ledger.write("before-%d" % k)
    old = ens.leader()
    epoch = zxid_epoch(ens.converged()[0])
    ens.kill(old)
    new = ens.leader(timeout=T)  # the old one is dead: any leader found is a new one
    assert new != old
    for k in range(20):
        ledger.write("after-%d" % k)
    ens.start(old)
    zxid, _ = ens.converged()
    assert zxid_epoch(zxid) > epoch
    ledger.check_all("after a leader kill")
