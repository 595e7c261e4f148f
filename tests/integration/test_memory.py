"""A member's memory is bounded by bytes, not by a count of log entries (issue 11). After 600
setData of 1,000,000 bytes round-robin over 20 znodes (the tree holds 20 MB of values) each
member of a 3-member ensemble must have grown by less than 200 MB (RSS: the tree, the in-memory
window bounded at 64 MiB by zab_config.window_bytes, queues).

Two faults this catches: the core's window used to keep the last 1,000 applied entries whatever
their size (~1 GB RSS after 1,000 such writes), and the log's mapped pages were released only
when /proc/self/maps spelled the data directory as zoo.cfg did, so with a dataDir through ".." or
a symlink the pages each log purge walks piled up in RSS (here, with a snapshot and a purge every
64 MiB: +265 MB per member before the fix, +135 MB after; 1,500 writes with the default 512 MiB
showed +440 MB of file pages).

Run by ctest (integ_memory, port 25770) or by hand:
/usr/bin/python3 -m pytest tests/integration/test_memory.py
"""
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ensemble import Ensemble  # noqa: E402

pytest.importorskip("kazoo.client")

WRITES, SIZE, KEYS = 600, 1000000, 20
GROWTH_BOUND_KB = 200 * 1024


@pytest.fixture(scope="module")
def ens():
    # the members see their data directories through a symlink, as an operator's dataDir may be
    real = os.path.abspath(os.environ.get("ZABKEEPER_CLUSTER_DIR",
                                          os.path.join(HERE, "..", "..", "cluster", "integ-memory")))
    shutil.rmtree(real, ignore_errors=True)  # Ensemble.up cannot wipe it through the link
    os.makedirs(real)
    link = real + ".link"
    if os.path.islink(link):
        os.unlink(link)
    os.symlink(real, link)
    os.environ["ZABKEEPER_CLUSTER_DIR"] = link
    e = Ensemble(link, 25770)
    e.up(3, ["snapSizeLimitInKb=65536"])  # a snapshot and a log purge every 64 MiB
    yield e
    e.down()
    os.unlink(link)


def test_rss_bounded_by_bytes_not_entries(ens):
    zk = ens.client()
    try:
        keys = ["/big/k%d" % k for k in range(KEYS)]
        zk.ensure_path("/big")
        for k in keys:
            zk.create(k, b"")
        before = {i: ens.rss_kb(i) for i in range(1, ens.n + 1)}
        value = b"v" * SIZE
        pending = []
        for n in range(WRITES):
            pending.append(zk.set_async(keys[n % KEYS], value))
            if len(pending) >= 8:
                pending.pop(0).get(timeout=60)
        for p in pending:
            p.get(timeout=60)
        ens.converged(60)
        growth = {i: ens.rss_kb(i) - before[i] for i in before}
        assert all(g < GROWTH_BOUND_KB for g in growth.values()), (
            "RSS growth per member after %d writes of %d bytes over %d znodes: %s MB" % (
                WRITES, SIZE, KEYS, {i: g // 1024 for i, g in growth.items()}))
    finally:
        zk.stop()
        zk.close()
