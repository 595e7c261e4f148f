"""Read-only mode (-Dreadonlymode.enabled=true) on a real 3-member ensemble, as ZooKeeper 3.8
offers it: a member that has been looking for max(2 s, tickTime) serves clients that accept
read-only service (ConnectRequest.readOnly) from its tree, answers their writes and syncs with
NotReadOnly, keeps their sessions alive by pings, still refuses every other client, says "ro" to
isro and "Mode: read-only" to srvr; when it rejoins a quorum its read-only clients are
disconnected and find a read-write member, a quorum session it served read-only carrying on.

Run by ctest (integ_readonly) or by hand: /usr/bin/python3 -m pytest test_readonly.py
"""
import json
import os
import sys
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ensemble import Ensemble, wait_for  # noqa: E402
import zkwire  # noqa: E402  (tests/compat, on the path through ensemble)

kazoo_client = pytest.importorskip("kazoo.client")
from kazoo import exceptions as kex  # noqa: E402
from kazoo.protocol.states import KeeperState  # noqa: E402

ZNOTREADONLY = -119
SESSION_TIMEOUT = 4.0  # seconds; tick 500 ms allows 1..10 s
ADMIN_BASE = 28350  # AdminServer of member i on ADMIN_BASE + i


@pytest.fixture
def ens():
    e = Ensemble(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                              "cluster", "integ-readonly"), 28300)
    yield e
    e.down()
    os.environ.pop("SERVER_JVMFLAGS", None)
    os.environ.pop("ZABKEEPER_ADMIN_BASE_PORT", None)


def up(ens, read_only):
    """3 members; read_only: with the JVM-property spelling ZooKeeper's operators use, through
    SERVER_JVMFLAGS."""
    if read_only:
        os.environ["SERVER_JVMFLAGS"] = "-Dreadonlymode.enabled=true"
    else:
        os.environ.pop("SERVER_JVMFLAGS", None)
    os.environ["ZABKEEPER_ADMIN_BASE_PORT"] = str(ADMIN_BASE)
    ens.up(3)
    ens.converged()


def kclient(ens, ids, read_only):
    states = []
    zk = kazoo_client.KazooClient(hosts=ens.hosts(ids), timeout=SESSION_TIMEOUT,
                                  read_only=read_only,
                                  connection_retry={"max_tries": -1, "delay": 0.05,
                                                    "max_delay": 0.5})
    zk.add_listener(states.append)
    zk.start(timeout=15)
    return zk, states


def lose_quorum(ens, keep):
    """Kill every member but `keep`; wait until it serves read-only."""
    for i in (1, 2, 3):
        if i != keep:
            ens.kill(i)
    wait_for(lambda: ens.fourlw(keep, "isro") == "ro", 20, "member %d to turn read-only" % keep)


def admin(i, command):
    with urllib.request.urlopen("http://127.0.0.1:%d/commands/%s" % (ADMIN_BASE + i, command),
                                timeout=10) as r:
        return json.loads(r.read())


def raw_read_only(ens, i, **kw):
    c = zkwire.Conn(ens.client_port(i))
    c.handshake(timeout_ms=int(SESSION_TIMEOUT * 1000), read_only=True, **kw)
    return c


def test_read_only_service_and_back(ens):
    up(ens, read_only=True)
    rw, _ = kclient(ens, (1, 2, 3), read_only=False)
    rw.create("/ro/a", b"one", makepath=True)
    # a quorum session on member 1, from a client that takes read-only service
    kept, kept_states = kclient(ens, (1,), read_only=True)
    kept.create("/ro/kept-", b"", ephemeral=True, sequence=True)
    kept_id = kept.client_id[0]
    assert ens.fourlw(1, "isro") == "rw"
    zkwire.close_clients(rw)

    lose_quorum(ens, keep=1)
    assert "Mode: read-only" in ens.fourlw(1, "srvr")
    assert ens.mntr(1)["zk_server_state"] == "read-only"
    assert admin(1, "is_read_only")["read_only"] is True
    stats = admin(1, "stats")
    assert stats["error"] is None and stats["read_only"] is True

    # a client that wants a quorum is still refused: no ConnectResponse, the connection closes
    plain = zkwire.Conn(ens.client_port(1))
    plain.send(zkwire.connect_request())
    assert plain.wait_closed(5), "a read-write client was served without a quorum"
    plain.close()

    # the quorum session carries on read-only, its ephemeral visible
    wait_for(lambda: kept.client_state == KeeperState.CONNECTED_RO, 20,
             "the quorum session to be served read-only")
    assert kept.client_id[0] == kept_id
    assert len(kept.get_children("/ro")) == 2

    # a new read-only session: reads, NotReadOnly for writes and sync, pings keep it
    ro, _ = kclient(ens, (1,), read_only=True)
    wait_for(lambda: ro.client_state == KeeperState.CONNECTED_RO, 10, "a read-only session")
    assert ro.get("/ro/a")[0] == b"one"
    for write in (lambda: ro.create("/ro/b"), lambda: ro.set("/ro/a", b"two"),
                  lambda: ro.delete("/ro/a"), lambda: ro.sync("/ro")):
        with pytest.raises(kex.NotReadOnlyCallError):
            write()
    ro_id = ro.client_id[0]
    time.sleep(2 * SESSION_TIMEOUT)  # longer than its timeout: pings must renew it
    assert ro.client_state == KeeperState.CONNECTED_RO and ro.client_id[0] == ro_id
    assert ro.exists("/ro/a") is not None

    # raw: the reply's readOnly flag, a wrong password (a resume attempt moves the session off
    # its connection first, as ZooKeeper's), resuming on another connection, closeSession
    c = raw_read_only(ens, 1)
    assert c.read_only and c.session_id != 0
    assert c.call(1, zkwire.OP_CREATE, zkwire.create_body("/ro/raw"))[2] == ZNOTREADONLY
    assert c.call(2, zkwire.OP_SYNC, zkwire.ustring("/ro"))[2] == ZNOTREADONLY
    wrong = raw_read_only(ens, 1, session_id=c.session_id, passwd=b"x" * 16)
    assert wrong.session_id == 0 and wrong.timeout == 0
    assert c.wait_closed(5), "the session's connection stays open after a resume attempt"
    again = raw_read_only(ens, 1, session_id=c.session_id, passwd=c.passwd)
    assert again.session_id == c.session_id and again.read_only
    assert again.call(3, zkwire.OP_GETDATA, zkwire.path_watch_body("/ro/a"))[2] == 0
    assert again.call(4, zkwire.OP_CLOSE)[2] == 0
    gone = raw_read_only(ens, 1, session_id=c.session_id, passwd=c.passwd)
    assert gone.session_id == 0, "a closed read-only session was resumed"
    # a silent read-only session expires here: its connection closes, it cannot be resumed
    idle = zkwire.Conn(ens.client_port(1))
    idle.handshake(timeout_ms=1000, read_only=True)
    assert idle.read_only and idle.timeout == 1000
    assert idle.wait_closed(10), "an expired read-only session kept its connection"
    late = raw_read_only(ens, 1, session_id=idle.session_id, passwd=idle.passwd)
    assert late.session_id == 0, "an expired read-only session was resumed"
    for conn in (c, wrong, again, gone, idle, late):
        conn.close()

    # the quorum comes back: read-only clients are sent away and find read-write service
    ens.start(2)
    ens.start(3)
    ens.converged()
    assert ens.fourlw(1, "isro") == "rw"
    assert admin(1, "is_read_only")["read_only"] is False
    wait_for(lambda: ro.client_state == KeeperState.CONNECTED, 30, "read-write service again")
    wait_for(lambda: kept.client_state == KeeperState.CONNECTED, 30,
             "the quorum session on a read-write member")
    assert kept.client_id[0] == kept_id, "the quorum session was lost"
    assert len(kept.get_children("/ro")) == 2, "its ephemeral was lost"
    ro.create("/ro/after", b"")
    zkwire.close_clients(ro, kept)


def test_without_the_setting_no_read_only_service(ens):
    up(ens, read_only=False)
    for i in (2, 3):
        ens.kill(i)
    wait_for(lambda: "not currently serving" in ens.fourlw(1, "srvr"), 20, "member 1 to stop")
    time.sleep(3)  # past the 2 s after which a member with the setting turns read-only
    assert ens.fourlw(1, "isro") == "null"
    assert "not currently serving" in admin(1, "is_read_only")["error"]
    c = zkwire.Conn(ens.client_port(1))
    c.send(zkwire.connect_request(read_only=True))
    assert c.wait_closed(5), "read-only service without readonlymode.enabled"
    c.close()
