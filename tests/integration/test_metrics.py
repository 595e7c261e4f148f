"""The Prometheus endpoint (issue 15): /metrics of a standalone member and of each member of a
3-member ensemble passes `promtool check metrics`, carries ZooKeeper's metric names and moves as
the test writes; a real Prometheus server (Debian's prometheus, its own configuration and data in
a temporary directory, scrape interval 1 s) scrapes the ensemble until every member's target is
up and znode_count is reported for each.

Ports (127.0.0.1): ensemble ZABKEEPER_BASE_PORT (27850: client +1..3, peer +11..13, election
+21..23) with /metrics on ZABKEEPER_METRICS_BASE_PORT+id (27880); Prometheus 27890; standalone
client 27894, /metrics 27895.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from admintools import Solo, get, kazoo, stop_process  # noqa: E402
from ensemble import Ensemble, wait_for  # noqa: E402

pytest.importorskip("kazoo.client")

METRICS_BASE = int(os.environ.setdefault("ZABKEEPER_METRICS_BASE_PORT", "27880"))
PROMETHEUS_PORT = 27890
SOLO_CLIENT, SOLO_METRICS = 27894, 27895
PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
ENS_DIR = os.environ.get("ZABKEEPER_CLUSTER_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "cluster", "integ-metrics", "ens")
TOP = os.path.dirname(os.path.abspath(ENS_DIR))

# ZooKeeper's names (ZooKeeperServer.registerMetrics, ServerMetrics) and zabkeeper's own
ZK_GAUGES = ["avg_latency", "max_latency", "min_latency", "packets_received", "packets_sent",
             "num_alive_connections", "outstanding_requests", "uptime", "znode_count",
             "watch_count", "ephemerals_count", "approximate_data_size", "global_sessions",
             "local_sessions", "open_file_descriptor_count", "max_file_descriptor_count"]
ZK_SUMMARIES = ["fsynctime", "snapshottime"]
ZAB_HISTOGRAMS = ["zabkeeper_log_commit_seconds", "zabkeeper_log_commit_records",
                  "zabkeeper_log_checkpoint_seconds", "zabkeeper_snapshot_seconds",
                  "zabkeeper_stage_seconds"]
STAGES = ["recv_to_proposed", "proposed_to_durable", "proposed_to_quorum", "quorum_to_applied",
          "applied_to_replied", "recv_to_replied", "follower_received_to_durable",
          "follower_durable_to_ack"]


def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.skip("%s is not installed (Debian's prometheus package; setup.sh installs it)"
                    % name)
    return path


def scrape(port):
    status, hdrs, body = get(port, "/metrics")
    assert status == 200
    assert hdrs["content-type"] == "text/plain; version=0.0.4; charset=utf-8", hdrs
    return body.decode()


def promtool_check(text):
    p = subprocess.run([tool("promtool"), "check", "metrics"], input=text, text=True,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, "promtool check metrics: %s%s" % (p.stdout, p.stderr)


def parse(text):
    """{(name, frozenset(labels)): value} and {family: type}."""
    values, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, fam, t = line.split(" ", 3)
            types[fam] = t
        elif line and not line.startswith("#"):
            m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
            assert m, line
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            values[(m.group(1), labels)] = float(m.group(3))
    return values, types


def value(values, name, **labels):
    return values[(name, frozenset(labels.items()))]


@pytest.fixture(scope="module")
def solo():
    s = Solo(os.path.join(TOP, "solo"), SOLO_CLIENT,
             ["admin.enableServer=false", "metricsProvider.className=" + PROVIDER,
              "metricsProvider.httpHost=127.0.0.1", "metricsProvider.httpPort=%d" % SOLO_METRICS,
              "metricsProvider.exportJvmInfo=true"]).wait_serving()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def ens():
    e = Ensemble(ENS_DIR, 27850)
    e.up(3)
    yield e
    e.down()


def test_standalone_metrics(solo):
    text = scrape(SOLO_METRICS)
    promtool_check(text)
    values, types = parse(text)
    for g in ZK_GAUGES:
        assert (g, frozenset()) in values, g
        assert types[g] in ("gauge", "untyped"), (g, types[g])  # untyped: see docs
    for s in ZK_SUMMARIES:
        assert types[s] == "summary"
        assert (s, frozenset({("quantile", "0.5")})) in values
    for h in ZAB_HISTOGRAMS:
        assert types[h] == "histogram", h
    for st in STAGES:
        assert value(values, "zabkeeper_stage_seconds_bucket", stage=st, le="+Inf") >= 0
    assert value(values, "zabkeeper_server_state", state="standalone") == 1
    assert value(values, "zabkeeper_server_state", state="leader") == 0
    assert ("quorum_size", frozenset()) not in values  # an ensemble's
    assert not any(n.startswith("jvm_") for n, _ in values)  # exportJvmInfo: no JVM here


def test_values_move(solo):
    before, _ = parse(scrape(SOLO_METRICS))
    zk = kazoo(SOLO_CLIENT)
    try:
        for i in range(100):
            zk.create("/m-%d" % i, b"v" * 50)
        zk.create("/m-eph", ephemeral=True)
        zk.exists("/m-1", watch=lambda e: None)
        after, _ = parse(scrape(SOLO_METRICS))
        assert value(after, "znode_count") == value(before, "znode_count") + 101
        assert value(after, "ephemerals_count") == value(before, "ephemerals_count") + 1
        assert value(after, "watch_count") == value(before, "watch_count") + 1
        assert value(after, "num_alive_connections") == 1
        assert value(after, "packets_received") >= value(before, "packets_received") + 102
        assert value(after, "zabkeeper_txns_logged_total") >= \
            value(before, "zabkeeper_txns_logged_total") + 101
        assert value(after, "fsynctime_count") > value(before, "fsynctime_count")
        assert value(after, "zabkeeper_stage_seconds_count", stage="recv_to_replied") >= \
            value(before, "zabkeeper_stage_seconds_count", stage="recv_to_replied") + 101
        # a histogram's buckets are cumulative and end at its count
        for st in STAGES:
            buckets = sorted(((float(dict(l)["le"]), v) for (n, l), v in after.items()
                              if n == "zabkeeper_stage_seconds_bucket" and
                              dict(l)["stage"] == st), key=lambda x: x[0])
            counts = [v for _, v in buckets]
            assert counts == sorted(counts)
            assert counts[-1] == value(after, "zabkeeper_stage_seconds_count", stage=st)
        promtool_check(scrape(SOLO_METRICS))
    finally:
        zk.stop()
        zk.close()


def test_metrics_endpoint_refuses_what_it_does_not_serve(solo):
    assert get(SOLO_METRICS, "/")[0] == 404
    assert get(SOLO_METRICS, "/metricsx")[0] == 404
    assert get(SOLO_METRICS, "/metrics", method="POST", body=b"x")[0] == 405
    assert get(SOLO_METRICS, "/metrics", method="TRACE")[0] == 403
    status, _, body = get(SOLO_METRICS, "/metrics", method="HEAD")
    assert status == 200 and body == b""
    assert "Mode: standalone" in subprocess.run(
        ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d; printf srvr >&3; cat <&3" % SOLO_CLIENT],
        capture_output=True, text=True, timeout=10).stdout


def test_ensemble_metrics(ens):
    leader = ens.leader()
    c = ens.client()
    for i in range(30):
        c.create("/ens-m-%d" % i)
    c.stop()
    c.close()
    ens.converged()
    for i in range(1, 4):
        text = scrape(METRICS_BASE + i)
        promtool_check(text)
        values, types = parse(text)
        assert value(values, "quorum_size") == 3
        role = "leader" if i == leader else "follower"
        assert value(values, "zabkeeper_server_state", state=role) == 1
        assert value(values, "zabkeeper_leader_id") == leader
        assert value(values, "election_time_count") >= 1 and types["election_time"] == "summary"
        assert value(values, "looking_count") >= 1
        assert (("leader_uptime", frozenset()) in values) == (i == leader)
        stage = "proposed_to_quorum" if i == leader else "follower_received_to_durable"
        assert value(values, "zabkeeper_stage_seconds_count", stage=stage) >= 30, (i, stage)


def prometheus_api(path, **params):
    q = ("?" + urllib.parse.urlencode(params)) if params else ""
    status, _, body = get(PROMETHEUS_PORT, "/api/v1/" + path + q, timeout=5)
    assert status == 200, body[:300]
    doc = json.loads(body)
    assert doc["status"] == "success", doc
    return doc["data"]


def test_real_prometheus_scrapes_the_ensemble(ens):
    binary = tool("prometheus")
    targets = ["127.0.0.1:%d" % (METRICS_BASE + i) for i in range(1, 4)]
    work = tempfile.mkdtemp(prefix="prometheus-", dir=TOP)
    cfg = os.path.join(work, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: zabkeeper\n    static_configs:\n"
                "      - targets: [%s]\n" % ", ".join("'%s'" % t for t in targets))
    log = open(os.path.join(work, "prometheus.log"), "wb")
    proc = subprocess.Popen([binary, "--config.file=" + cfg,
                             "--storage.tsdb.path=" + os.path.join(work, "data"),
                             "--web.listen-address=127.0.0.1:%d" % PROMETHEUS_PORT,
                             "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=work)
    try:
        def ready():
            assert proc.poll() is None, open(log.name, errors="replace").read()[-2000:]
            try:
                return get(PROMETHEUS_PORT, "/-/ready", timeout=2)[0] == 200
            except OSError:
                return False
        wait_for(ready, 60, "Prometheus to start", interval=0.2)

        def all_up():
            active = prometheus_api("targets")["activeTargets"]
            health = {t["labels"]["instance"]: t["health"] for t in active}
            return health if health == {t: "up" for t in targets} else None
        wait_for(all_up, 60, "every member's target to be up", interval=0.5)

        c = ens.client()
        for i in range(50):
            c.create("/prom-%d" % i)
        c.stop()
        c.close()
        ens.converged()
        expected = min(int(ens.mntr(i)["zk_znode_count"]) for i in range(1, 4))

        def reported():
            res = prometheus_api("query", query="znode_count")["result"]
            got = {r["metric"]["instance"]: float(r["value"][1]) for r in res}
            return got if set(got) == set(targets) and min(got.values()) >= expected else None
        got = wait_for(reported, 60, "znode_count of every member in Prometheus", interval=0.5)
        assert all(r["metric"]["job"] == "zabkeeper" for r in
                   prometheus_api("query", query="znode_count")["result"])
        # and a histogram is usable as one
        res = prometheus_api("query", query="histogram_quantile(0.99, sum by (le) "
                                            "(zabkeeper_stage_seconds_bucket))")["result"]
        assert len(res) == 1
        leaders = prometheus_api("query", query='zabkeeper_server_state{state="leader"} == 1')
        assert len(leaders["result"]) == 1, leaders
        print("Prometheus scraped znode_count %s" % got)
    finally:
        stop_process(proc, 20)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
