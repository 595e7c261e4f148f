"""Helpers for test_admin.py and test_metrics.py: HTTP GETs with bounded time, kazoo clients, a
standalone zabkeeper started on its own zoo.cfg (Solo), Apache ZooKeeper 3.8 with its
AdminServer (Debian's package: Jetty is on zookeeper.jar's manifest class path, the servlet API
is not, so it is added here), and the JSON field names and types ZooKeeper 3.8's AdminServer
answers with (taken from a real ZooKeeper 3.8.0: standalone, and the leader and a follower of a
3-member ensemble).
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.abspath(os.path.join(HERE, "..", ".."))
SERVLET_API = "/usr/share/java/servlet-api.jar"
sys.path.insert(0, os.path.join(PROJECT, "tests", "compat"))
from serverprocs import zookeeper_classpath  # noqa: E402  (tests/compat)
from zkwire import four_letter_or_empty  # noqa: E402  (tests/compat)


def zabkeeper_bin():
    b = os.environ.get("ZABKEEPER_BIN") or os.path.join(PROJECT, "build", "src", "server",
                                                        "zabkeeper")
    if not os.access(b, os.X_OK):
        pytest.skip("zabkeeper binary not found at %s" % b)
    return b


def get(port, path, method="GET", headers=None, body=None, timeout=5.0):
    """(status, headers dict with lower-case names, body bytes) of one request on 127.0.0.1."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def command(port, name, url="/commands"):
    status, hdrs, body = get(port, "%s/%s" % (url, name))
    assert status == 200, (name, status, body[:300])
    assert hdrs.get("content-type", "").startswith("application/json"), hdrs
    return json.loads(body)


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def kazoo(port):
    """A started KazooClient on 127.0.0.1:port."""
    from kazoo.client import KazooClient
    c = KazooClient(hosts="127.0.0.1:%d" % port, timeout=8.0)
    c.start(timeout=15)
    return c


def stop_process(proc, grace=10.0):
    """SIGTERM, then SIGKILL after grace seconds; waits for the end."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Solo:
    """One standalone zabkeeper on its own zoo.cfg (extra lines given) in dir."""

    def __init__(self, dir, client_port, lines=(), args=()):
        self.dir, self.port = dir, client_port
        shutil.rmtree(dir, ignore_errors=True)
        os.makedirs(os.path.join(dir, "data"))
        self.cfg = os.path.join(dir, "zoo.cfg")
        with open(self.cfg, "w") as f:
            f.write("\n".join(["tickTime=500", "dataDir=" + os.path.join(dir, "data"),
                               "clientPort=%d" % client_port, "4lw.commands.whitelist=*",
                               "maxClientCnxns=0"] + list(lines)) + "\n")
        self.log = os.path.join(dir, "server.log")
        self.proc = subprocess.Popen([zabkeeper_bin()] + list(args) + [self.cfg],
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def wait_serving(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while "Mode: " not in four_letter_or_empty(self.port, "srvr", 1.0):
            if self.proc.poll() is not None:
                pytest.fail("zabkeeper exited (%d) at start: %s" % (self.proc.returncode,
                                                                    self.log_text()[-2000:]))
            if time.monotonic() > deadline:
                pytest.fail("zabkeeper does not serve on %d: %s" % (self.port,
                                                                   self.log_text()[-2000:]))
            time.sleep(0.05)
        return self

    def wait_exit(self, timeout=15.0):
        """The exit status of a member that must not start."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail("zabkeeper did not stop at start: %s" % self.log_text()[-2000:])

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def stop(self):
        stop_process(self.proc)


def zookeeper_available():
    return (shutil.which("java") and os.path.exists("/usr/share/java/zookeeper.jar")
            and os.path.exists(SERVLET_API))


class ZooKeeper:
    """Apache ZooKeeper 3.8 standalone with its (Jetty) AdminServer on admin_port."""

    def __init__(self, dir, client_port, admin_port):
        self.dir, self.port, self.admin_port = dir, client_port, admin_port
        shutil.rmtree(dir, ignore_errors=True)
        os.makedirs(os.path.join(dir, "data"))
        cfg = os.path.join(dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=500\ndataDir=%s/data\nclientPort=%d\n4lw.commands.whitelist=*\n"
                    "admin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n"
                    % (dir, client_port, admin_port))
        cp = zookeeper_classpath() + ":" + SERVLET_API
        self.log = os.path.join(dir, "server.log")
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", "-cp", cp, "org.apache.zookeeper.server.ZooKeeperServerMain",
             cfg], stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(admin_port, "/commands/ruok", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("ZooKeeper's AdminServer did not start: %s" % open(
                    self.log, errors="replace").read()[-2000:])
            time.sleep(0.2)

    def stop(self):
        stop_process(self.proc)


# ---- ZooKeeper 3.8's answers: field -> type (dict: an object, [x]: a list of x)
BUFFER_STATS = {"last_buffer_size": int, "min_buffer_size": int, "max_buffer_size": int}
SERVER_STATS = {
    "version": str, "read_only": bool, "node_count": int, "client_response": BUFFER_STATS,
    "server_stats": {
        "packets_sent": int, "packets_received": int, "fsync_threshold_exceed_count": int,
        "client_response_stats": BUFFER_STATS, "data_dir_size": int, "log_dir_size": int,
        "provider_null": bool, "server_state": str, "last_processed_zxid": int,
        "outstanding_requests": int, "avg_latency": float, "max_latency": int,
        "min_latency": int, "num_alive_client_connections": int, "uptime": int,
        "auth_failed_count": int, "non_mtlsremote_conn_count": int,
        "non_mtlslocal_conn_count": int},
}
CONN_BRIEF = {"remote_socket_address": str, "interest_ops": int, "outstanding_requests": int,
              "packets_received": int, "packets_sent": int}
CONN_FULL = dict(CONN_BRIEF, session_id=int, last_operation=str, established=int,
                 session_timeout=int, last_cxid=int, last_zxid=int, last_response_time=int,
                 last_latency=int, min_latency=int, avg_latency=int, max_latency=int)
SCHEMA = {
    "ruok": {},
    "server_stats": SERVER_STATS,
    "stats": dict(SERVER_STATS, connections=[CONN_BRIEF], secure_connections=[CONN_BRIEF]),
    "configuration": {"client_port": int, "data_dir": str, "data_log_dir": str,
                      "tick_time": int, "max_client_cnxns": int, "min_session_timeout": int,
                      "max_session_timeout": int, "server_id": int,
                      "client_port_listen_backlog": int},
    "leader": {"is_leader": bool, "leader_id": int, "leader_ip": str},
    "voting_view": {"current_config": {}},
    "watch_summary": {"num_connections": int, "num_paths": int, "num_total_watches": int},
    "connections": {"connections": [CONN_FULL], "secure_connections": [CONN_FULL]},
    "dump": {"expiry_time_to_session_ids": {}, "session_id_to_ephemeral_paths": {}},
    "environment": {"zookeeper.version": str, "host.name": str, "os.name": str,
                    "os.arch": str, "os.version": str, "user.name": str, "user.home": str,
                    "user.dir": str},
    "is_read_only": {"read_only": bool},
    "dirs": {"datadir_size": int, "logdir_size": int},
    # monitor: ZooKeeper 3.8 has ~500 keys; these are the ones zabkeeper has (same types)
    "monitor": {"version": str, "server_state": str, "avg_latency": float, "max_latency": int,
                "min_latency": int, "packets_received": int, "packets_sent": int,
                "num_alive_connections": int, "outstanding_requests": int, "znode_count": int,
                "watch_count": int, "ephemerals_count": int, "approximate_data_size": int,
                "open_file_descriptor_count": int, "max_file_descriptor_count": int,
                "uptime": int, "global_sessions": int, "local_sessions": int,
                "avg_fsynctime": float, "min_fsynctime": int, "max_fsynctime": int,
                "cnt_fsynctime": int, "sum_fsynctime": int, "avg_snapshottime": float,
                "min_snapshottime": int, "max_snapshottime": int, "cnt_snapshottime": int,
                "sum_snapshottime": int},
}
QUORUM_MONITOR = {"quorum_size": int, "peer_state": str, "looking_count": int,
                  "avg_election_time": float, "cnt_election_time": int}
LEADER_MONITOR = {"leader_uptime": int}
VOTING_VIEW_SERVER = {"server_addresses": [str], "election_addresses": [str],
                      "client_address": str, "learner_type": str}
ALIASES = {"monitor": ["mntr"], "stats": ["stat"], "server_stats": ["srvr"],
           "configuration": ["conf", "config"], "leader": ["lead"],
           "watch_summary": ["wchs"], "connections": ["cons"],
           "environment": ["env", "envi"], "is_read_only": ["isro"]}


def check_types(doc, schema, where, exact=True):
    """doc has schema's fields with schema's types (an int is not a bool, a float is a float);
    exact: and no others."""
    assert isinstance(doc, dict), "%s: not an object: %r" % (where, doc)
    for k, t in schema.items():
        assert k in doc, "%s: no field %r (has %s)" % (where, k, sorted(doc))
        v = doc[k]
        if isinstance(t, dict):
            if t:
                check_types(v, t, "%s.%s" % (where, k), exact)
            else:
                assert isinstance(v, dict), "%s.%s: %r" % (where, k, v)
        elif isinstance(t, list):
            assert isinstance(v, list), "%s.%s: %r" % (where, k, v)
            for i, e in enumerate(v):
                if isinstance(t[0], dict):
                    check_types(e, t[0], "%s.%s[%d]" % (where, k, i), exact)
                else:
                    assert type(e) is t[0], "%s.%s[%d]: %r" % (where, k, i, e)
        else:
            assert type(v) is t, "%s.%s: %r is %s, not %s" % (where, k, v, type(v).__name__,
                                                            t.__name__)
    if exact:
        extra = set(doc) - set(schema) - {"command", "error"}
        assert not extra, "%s: fields ZooKeeper does not have: %s" % (where, sorted(extra))


def shape(doc):
    """A JSON document's field names and value types, recursively (lists: their first item;
    numeric keys, data such as session ids, as one "<n>")."""
    if isinstance(doc, dict):
        return {("<n>" if k.isdigit() else k): shape(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [shape(doc[0])] if doc else []
    return type(doc).__name__
