"""The AdminServer (issue 15): ZooKeeper 3.8's /commands JSON on a standalone member and on each
member of a 3-member ensemble, compared field by field with a real ZooKeeper 3.8 where Debian's
package can run its AdminServer; bad requests and many connections do not hurt the member; a port
that cannot be bound and unknown metrics providers stop it at start.

Ports (all on 127.0.0.1): ensemble ZABKEEPER_BASE_PORT (27800: client +1..3, peer +11..13,
election +21..23) with the AdminServer on ZABKEEPER_ADMIN_BASE_PORT+id (27830); standalone
client 27840, AdminServer 27841; the refusals 27844..27846; ZooKeeper 27847, its AdminServer
27848.
"""
import json
import os
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
from admintools import (ALIASES, LEADER_MONITOR, QUORUM_MONITOR, SCHEMA,  # noqa: E402
                        VOTING_VIEW_SERVER, Solo, ZooKeeper, check_types, command, get, kazoo,
                        port_free, shape, zookeeper_available)
from ensemble import Ensemble, wait_for  # noqa: E402
from zkwire import four_letter  # noqa: E402

pytest.importorskip("kazoo.client")

ADMIN_BASE = int(os.environ.setdefault("ZABKEEPER_ADMIN_BASE_PORT", "27830"))
SOLO_CLIENT, SOLO_ADMIN = 27840, 27841
REFUSE_CLIENT, REFUSE_BUSY, REFUSE_OTHER = 27844, 27845, 27846
ZK_CLIENT, ZK_ADMIN = 27847, 27848
NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
# the ensemble's state in ENS_DIR (wiped by Ensemble.up), the other servers' beside it
ENS_DIR = os.environ.get("ZABKEEPER_CLUSTER_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "cluster", "integ-admin", "ens")
TOP = os.path.dirname(os.path.abspath(ENS_DIR))


@pytest.fixture(scope="module")
def solo():
    s = Solo(os.path.join(TOP, "solo"), SOLO_CLIENT,
             ["admin.serverAddress=127.0.0.1", "admin.serverPort=%d" % SOLO_ADMIN,
              "admin.idleTimeout=2000"]).wait_serving()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def ens():
    e = Ensemble(ENS_DIR, 27800)
    e.up(3)
    yield e
    e.down()


# ---------------------------------------------------------------- standalone

def test_command_list(solo):
    for path in ("/commands", "/commands/"):
        status, hdrs, body = get(SOLO_ADMIN, path)
        assert status == 200
        links = body.decode().split("\n<br/>\n")
        names = [l.split(">")[1].split("<")[0] for l in links if l.strip()]
        assert names == sorted(SCHEMA), names
        assert '<a href="/commands/monitor">monitor</a>' in body.decode()


@pytest.mark.parametrize("name", sorted(SCHEMA))
def test_every_command_standalone(solo, name):
    for alias in [name] + ALIASES.get(name, []):
        doc = command(SOLO_ADMIN, alias)
        assert doc["command"] == name, doc
        if name == "leader":  # ZooKeeper's standalone answer
            assert doc == {"error": "server is not initialized", "command": "leader"}
            assert list(doc) == ["error", "command"]
            continue
        assert doc["error"] is None, doc
        assert list(doc)[-2:] == ["command", "error"]
        check_types(doc, SCHEMA[name], alias, exact=name not in ("monitor", "environment"))
    if name == "voting_view":
        assert doc["current_config"] == {}
    if name == "server_stats":
        assert doc["server_stats"]["server_state"] == "standalone"
        assert "proposal_stats" not in doc


def test_values_follow_the_member(solo):
    base = command(SOLO_ADMIN, "monitor")
    zk = kazoo(SOLO_CLIENT)
    try:
        for i in range(20):
            zk.create("/adm-%d" % i, b"x" * 100)
        zk.create("/adm-eph", b"", ephemeral=True)
        zk.get("/adm-1", watch=lambda e: None)
        zk.exists("/adm-none", watch=lambda e: None)
        zk.get_children("/", watch=lambda e: None)  # a child watch: not in wchs, as ZooKeeper
        sid = zk.client_id[0]
        mon = command(SOLO_ADMIN, "monitor")
        assert mon["znode_count"] == base["znode_count"] + 21
        assert mon["ephemerals_count"] == base["ephemerals_count"] + 1
        assert mon["approximate_data_size"] > base["approximate_data_size"] + 2000
        assert mon["packets_received"] > base["packets_received"]
        assert mon["num_alive_connections"] == 1 and mon["global_sessions"] == 1
        assert mon["cnt_fsynctime"] > base["cnt_fsynctime"]
        assert mon["watch_count"] == 3
        assert command(SOLO_ADMIN, "wchs") == {"num_connections": 1, "num_paths": 2,
                                               "num_total_watches": 2,
                                               "command": "watch_summary", "error": None}
        dump = command(SOLO_ADMIN, "dump")
        assert dump["session_id_to_ephemeral_paths"] == {str(sid): ["/adm-eph"]}
        expiring = [s for ids in dump["expiry_time_to_session_ids"].values() for s in ids]
        assert expiring == [sid]
        cons = command(SOLO_ADMIN, "cons")["connections"]
        assert len(cons) == 1 and cons[0]["session_id"] == sid
        assert cons[0]["session_timeout"] == 8000
        assert abs(cons[0]["established"] / 1000 - time.time()) < 60
        host, port = zk._connection._socket.getsockname()
        assert cons[0]["remote_socket_address"] == "%s:%d" % (host, port)
        stats = command(SOLO_ADMIN, "stats")
        assert stats["node_count"] == mon["znode_count"]
        assert [c["remote_socket_address"] for c in stats["connections"]] == \
            [cons[0]["remote_socket_address"]]
        # the same numbers as the four-letter words
        mntr = dict(l.split("\t", 1) for l in four_letter(SOLO_CLIENT, "mntr", 2).splitlines()
                    if "\t" in l)
        assert int(mntr["zk_znode_count"]) == command(SOLO_ADMIN, "mntr")["znode_count"]
    finally:
        zk.stop()
        zk.close()
    wait_for(lambda: command(SOLO_ADMIN, "monitor")["ephemerals_count"] ==
             base["ephemerals_count"], 10, "the ephemeral to go with its session")


def test_unknown_commands(solo):
    for name, shown in (("nosuch", "nosuch"), ("ruok/", "ruok/"), ("%22%5C%0A", '"\\\n'),
                        ("%C3%A9t%C3%A9", "\u00e9t\u00e9"), ("x" * 2000, "x" * 2000)):
        status, hdrs, body = get(SOLO_ADMIN, "/commands/" + name)
        assert status == 200  # ZooKeeper 3.8 answers 200 with the error in the JSON
        doc = json.loads(body)
        assert doc["command"] == shown
        assert doc["error"].startswith("Unknown command: ")


def raw(port, data, timeout=3.0):
    """Send data on a fresh connection; what comes back before the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except OSError:
            pass
        return out


def test_bad_requests_do_not_hurt(solo):
    rss0 = solo.rss_kb()
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        status, hdrs, _ = get(SOLO_ADMIN, "/commands/ruok", method=method, body=b"x")
        assert status == 405 and hdrs.get("allow") == "GET, HEAD", (method, status)
    assert get(SOLO_ADMIN, "/commands/ruok", method="TRACE")[0] == 403  # as ZooKeeper's Jetty
    status, hdrs, body = get(SOLO_ADMIN, "/commands/ruok", method="HEAD")
    assert status == 200 and body == b""
    assert get(SOLO_ADMIN, "/")[0] == 404
    assert get(SOLO_ADMIN, "/commandsx/ruok")[0] == 404
    assert get(SOLO_ADMIN, "/commands/ruok%00")[0] == 400
    # a body over the bound, huge headers, a huge request line: refused, the connection closed
    out = raw(SOLO_ADMIN, b"POST /commands/ruok HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000"
                          b"\r\n\r\n" + b"y" * 100000)
    assert out.startswith(b"HTTP/1.1 413") or out == b"", out[:100]
    for request in (b"GET /commands/ruok HTTP/1.1\r\n" + b"X-Big: " + b"h" * 200000 + b"\r\n\r\n",
                    b"GET /commands/ruok HTTP/1.1\r\n" +
                    b"".join(b"X-%d: v\r\n" % i for i in range(20000)) + b"\r\n",
                    b"GET /" + b"a" * 300000 + b" HTTP/1.1\r\n\r\n",
                    b"\x00\xff garbage \r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n"):
        out = raw(SOLO_ADMIN, request)
        assert not out.startswith(b"HTTP/1.1 200"), out[:200]
    # many requests on one keep-alive connection
    c = socket.create_connection(("127.0.0.1", SOLO_ADMIN), 5)
    c.sendall(b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\n\r\n" * 200)
    got = b""
    while got.count(b'"command" : "ruok"') < 200:
        b = c.recv(65536)
        assert b, "closed after %d answers" % got.count(b'"command"')
        got += b
    c.close()
    assert command(SOLO_ADMIN, "ruok")["error"] is None
    zk = kazoo(SOLO_CLIENT)
    zk.create("/after-bad-requests")
    zk.stop()
    zk.close()
    assert solo.rss_kb() < rss0 + 20000, (rss0, solo.rss_kb())


def test_a_client_that_does_not_read_is_not_buffered(solo):
    """Pipelined requests whose answers are never read: the member stops reading them
    (ADMIN_INPUT_MAX) instead of holding them all, and the idle timeout ends the connection."""
    rss0 = solo.rss_kb()
    s = socket.create_connection(("127.0.0.1", SOLO_ADMIN), 5)
    s.settimeout(1)
    request = b"GET /commands/monitor HTTP/1.1\r\nHost: x\r\n\r\n" * 1000
    sent, t0 = 0, time.monotonic()
    try:
        while time.monotonic() - t0 < 4 and sent < 500e6:
            sent += s.send(request)
    except OSError:
        pass
    s.close()
    assert sent < 50e6, sent
    assert solo.rss_kb() < rss0 + 20000, (rss0, solo.rss_kb())
    assert command(SOLO_ADMIN, "ruok")["error"] is None


def test_many_connections_are_bounded(solo):
    fds0 = solo.fds()
    socks = []
    try:
        for _ in range(400):  # far past ADMIN_CONNS_MAX (64): the oldest are closed
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", SOLO_ADMIN))
            socks.append(s)
        time.sleep(0.5)
        assert solo.fds() < fds0 + 64 + 10, (fds0, solo.fds())
        # connections that send nothing do not lock a scrape out until admin.idleTimeout
        assert command(SOLO_ADMIN, "ruok")["error"] is None
        # the member goes on serving its clients meanwhile
        zk = kazoo(SOLO_CLIENT)
        zk.create("/while-admin-is-full")
        zk.stop()
        zk.close()
        assert "Mode: standalone" in four_letter(SOLO_CLIENT, "srvr", 2)
    finally:
        for s in socks:
            s.close()
    # and the AdminServer answers again once they are gone
    wait_for(lambda: command(SOLO_ADMIN, "ruok")["error"] is None, 15, "the AdminServer")
    assert solo.fds() < fds0 + 10


def test_idle_connections_are_closed(solo):
    s = socket.create_connection(("127.0.0.1", SOLO_ADMIN), 10)
    t0 = time.monotonic()
    assert s.recv(1) == b""  # admin.idleTimeout=2000 here
    assert 1.0 < time.monotonic() - t0 < 8.0
    s.close()


@pytest.mark.skipif(not zookeeper_available(), reason="no Apache ZooKeeper 3.8 (java, Debian's "
                    "zookeeper, servlet-api) to compare with")
def test_same_fields_as_zookeeper(solo):
    """Each command's JSON, with a client connected, an ephemeral node and a watch, has the
    fields and types of ZooKeeper 3.8's (documented exceptions: monitor and environment hold
    what zabkeeper has)."""
    zk_server = ZooKeeper(os.path.join(TOP, "zookeeper"), ZK_CLIENT, ZK_ADMIN)
    clients = []
    try:
        for port in (SOLO_CLIENT, ZK_CLIENT):
            c = kazoo(port)
            clients.append(c)
            c.ensure_path("/cmp")
            c.create("/cmp/eph", ephemeral=True)
            c.get("/cmp", watch=lambda e: None)
        for name in sorted(SCHEMA):
            ours, theirs = command(SOLO_ADMIN, name), command(ZK_ADMIN, name)
            assert ours["command"] == theirs["command"] == name
            assert ours.get("error") == theirs.get("error"), name
            if name in ("monitor", "environment"):
                common = set(ours) & set(theirs)
                assert {k: shape(ours[k]) for k in common} == \
                    {k: shape(theirs[k]) for k in common}, name
                assert set(SCHEMA[name]) <= common, set(SCHEMA[name]) - common
            else:
                assert shape(ours) == shape(theirs), name
                assert list(ours) == list(theirs), name  # the same order, too
    finally:
        for c in clients:
            c.stop()
            c.close()
        zk_server.stop()


# ---------------------------------------------------------------- refused at start

def test_admin_port_in_use_stops_the_member():
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", REFUSE_BUSY))
    busy.listen(1)
    try:
        s = Solo(os.path.join(TOP, "refused-admin"), REFUSE_CLIENT,
                 ["admin.serverAddress=127.0.0.1", "admin.serverPort=%d" % REFUSE_BUSY])
        assert s.wait_exit() != 0
        log = s.log_text()
        assert "AdminServer: cannot listen on 127.0.0.1:%d: Address already in use" % REFUSE_BUSY \
            in log, log[-1500:]
        assert "the member does not start" in log
        assert port_free(REFUSE_CLIENT)
        # -Dzookeeper.admin.* as ZooKeeper's start scripts pass them: the same
        s = Solo(os.path.join(TOP, "refused-admin-d"), REFUSE_CLIENT, [],
                 args=["-Dzookeeper.admin.serverAddress=127.0.0.1",
                       "-Dzookeeper.admin.serverPort=%d" % REFUSE_BUSY])
        assert s.wait_exit() != 0
        assert "Address already in use" in s.log_text()
        # the metrics port likewise
        s = Solo(os.path.join(TOP, "refused-metrics"), REFUSE_CLIENT,
                 ["admin.enableServer=false", "metricsProvider.className="
                  "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
                  "metricsProvider.httpHost=127.0.0.1",
                  "metricsProvider.httpPort=%d" % REFUSE_BUSY])
        assert s.wait_exit() != 0
        assert "Prometheus metrics: cannot listen on 127.0.0.1:%d" % REFUSE_BUSY in s.log_text()
        # off, the port is not wanted
        s = Solo(os.path.join(TOP, "admin-off"), REFUSE_CLIENT,
                 ["admin.enableServer=false", "admin.serverPort=%d" % REFUSE_BUSY])
        try:
            s.wait_serving()
            assert port_free(REFUSE_OTHER)
        finally:
            s.stop()
    finally:
        busy.close()


def test_other_metrics_providers_are_refused():
    s = Solo(os.path.join(TOP, "refused-provider"), REFUSE_CLIENT,
             ["admin.enableServer=false",
              "metricsProvider.className=org.example.GraphiteMetricsProvider"])
    assert s.wait_exit() != 0
    log = s.log_text()
    assert "metricsProvider.className=org.example.GraphiteMetricsProvider" in log, log[-1500:]
    assert "PrometheusMetricsProvider" in log


# ---------------------------------------------------------------- a 3-member ensemble

def admin(i):
    return ADMIN_BASE + i


def test_every_command_on_every_member(ens):
    leader = ens.leader()
    for i in range(1, 4):
        for name in sorted(SCHEMA):
            doc = command(admin(i), name)
            assert doc["command"] == name and doc["error"] is None, (i, doc)
            check_types(doc, SCHEMA[name], "member %d %s" % (i, name),
                        exact=name not in ("monitor", "environment", "server_stats", "stats"))
        mon = command(admin(i), "monitor")
        check_types(mon, QUORUM_MONITOR, "member %d monitor" % i, exact=False)
        assert mon["quorum_size"] == 3
        assert mon["server_state"] == ("leader" if i == leader else "follower")
        assert mon["peer_state"] == ("leading - broadcast" if i == leader
                                     else "following - broadcast")
        assert mon["looking_count"] >= 1 and mon["cnt_election_time"] >= 1
        if i == leader:
            check_types(mon, LEADER_MONITOR, "leader monitor", exact=False)
        srvr = command(admin(i), "srvr")
        assert ("proposal_stats" in srvr) == (i == leader)  # LeaderZooKeeperServer's only
        assert srvr["server_stats"]["server_state"] == mon["server_state"]
        assert command(admin(i), "conf")["server_id"] == i


def test_leader_and_voting_view(ens):
    leader = ens.leader()
    for i in range(1, 4):
        doc = command(admin(i), "lead")
        assert doc == {"is_leader": i == leader, "leader_id": leader, "leader_ip": "127.0.0.1",
                       "command": "leader", "error": None}
        view = command(admin(i), "voting_view")["current_config"]
        assert sorted(view) == ["1", "2", "3"]
        for j in range(1, 4):
            s = view[str(j)]
            check_types(s, VOTING_VIEW_SERVER, "voting_view %d" % j)
            assert s == {"server_addresses": ["127.0.0.1:%d" % ens.peer_port(j)],
                         "election_addresses": ["127.0.0.1:%d" % (ens.base + 20 + j)],
                         "client_address": "0.0.0.0:%d" % ens.client_port(j),
                         "learner_type": "participant"}


def test_sessions_and_dump_by_role(ens):
    leader = ens.leader()
    follower = next(i for i in range(1, 4) if i != leader)
    with ens.member_client(follower) as c:
        c.create("/ens-eph", ephemeral=True)
        sid = c.client_id[0]
        for i in range(1, 4):
            wait_for(lambda: command(admin(i), "dump")["session_id_to_ephemeral_paths"].get(
                str(sid)) == ["/ens-eph"], 10, "member %d to see the ephemeral" % i)
            expiring = [s for ids in command(admin(i), "dump")[
                "expiry_time_to_session_ids"].values() for s in ids]
            # only the leader expires sessions (ZooKeeper's learners show none either)
            assert (sid in expiring) == (i == leader), (i, expiring)
        cons = {i: command(admin(i), "cons")["connections"] for i in range(1, 4)}
        assert [c["session_id"] for c in cons[follower]] == [sid]
        assert all(not cons[i] for i in range(1, 4) if i != follower)


def test_a_member_without_quorum_says_so(ens):
    leader = ens.leader()
    others = [i for i in range(1, 4) if i != leader]
    for i in others:
        ens.kill(i)
    try:
        wait_for(lambda: command(admin(leader), "monitor")["server_state"] == "looking", 30,
                 "the leader to lose its quorum")
        for name in sorted(SCHEMA):
            doc = command(admin(leader), name)
            if name in ("monitor", "environment"):  # ZooKeeper's serverRequired=false ones
                assert doc["error"] is None
            else:
                assert doc == {"command": name, "error": NOT_SERVING}, doc
        doc = command(admin(leader), "mntr")  # as typed, as ZooKeeper echoes it
        assert doc["command"] == "monitor" and doc["peer_state"] == "looking"
        assert command(admin(leader), "srvr")["command"] == "srvr"
    finally:
        for i in others:
            ens.start(i)
    ens.converged()
    wait_for(lambda: all(command(admin(i), "ruok")["error"] is None for i in range(1, 4)), 30,
             "every member to serve again")
    assert sum(command(admin(i), "lead")["is_leader"] for i in range(1, 4)) == 1


def test_a_member_whose_admin_port_is_taken_runs_without_it(ens):
    """As ZooKeeper's QuorumPeer.start: a member of an ensemble whose AdminServer cannot listen
    logs it and serves anyway (a standalone server does not start: above). Test runners that
    start three local members with the default admin port 8080 rely on it."""
    ens.kill(2)
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def take_port():  # the killed member's listener may take a moment to go
        try:
            busy.bind(("127.0.0.1", ADMIN_BASE + 2))
            return True
        except OSError:
            return False
    wait_for(take_port, 10, "member 2's admin port to be free")
    busy.listen(1)
    try:
        offset = ens.log_size(2)
        ens.start(2)
        ens.converged()
        assert "AdminServer: cannot listen on 127.0.0.1:%d: Address already in use" % (
            ADMIN_BASE + 2) in ens.log_since(2, offset)
        assert "Mode: follower" in four_letter(ens.client_port(2), "srvr") or \
            "Mode: leader" in four_letter(ens.client_port(2), "srvr")
        assert command(admin(1), "ruok")["error"] is None
    finally:
        busy.close()
        ens.start(2)  # with its AdminServer again, for whatever runs next
        ens.converged()
    wait_for(lambda: command(admin(2), "ruok")["error"] is None, 30, "member 2's AdminServer")
