// Apache Curator's recipes against a ZooKeeper-protocol ensemble, for test_curator_recipes.py:
// each check runs one recipe the way an application does (its own clients, bounded waits) and
// prints "ok NAME" or "FAIL NAME: why". Exit status: the number of failed checks.
//   java -cp CLASSPATH [-Densemble=true] [-Dkill=COMMAND] CuratorRecipes HOSTS BASEPATH [CHECK...]
// No CHECK: all but failover. -Densemble=true: the server is an ensemble (getConfig shows it).
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.PathChildrenCache;
import org.apache.curator.framework.recipes.cache.PathChildrenCacheEvent;
import org.apache.curator.framework.recipes.cache.TreeCache;
import org.apache.curator.framework.recipes.cache.TreeCacheEvent;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMultiLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreMutex;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.nodes.GroupMember;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.nodes.PersistentTtlNode;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.data.Stat;

public class CuratorRecipes {
    static final int WAIT_S = 20;
    static String hosts, base;
    static final List<CuratorFramework> clients = new ArrayList<>();

    interface Check {
        void run() throws Exception;
    }

    static CuratorFramework client() throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, 10000, 8000,
                new RetryNTimes(50, 200));
        c.start();
        if (!c.blockUntilConnected(WAIT_S, TimeUnit.SECONDS))
            throw new AssertionError("not connected to " + hosts);
        clients.add(c);
        return c;
    }

    static void check(boolean ok, String what) {
        if (!ok)
            throw new AssertionError(what);
    }

    static void await(CountDownLatch l, String what) throws InterruptedException {
        check(l.await(WAIT_S, TimeUnit.SECONDS), "timed out waiting for " + what);
    }

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static String s(byte[] b) { return new String(b, StandardCharsets.UTF_8); }

    // Three latches: one leader; when it closes, another takes over.
    static void leaderLatch() throws Exception {
        String path = base + "/latch";
        List<LeaderLatch> latches = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            LeaderLatch l = new LeaderLatch(client(), path, "p" + i);
            l.start();
            latches.add(l);
        }
        LeaderLatch leader = waitForOneLeader(latches);
        check(leader.getLeader().getId().equals(leader.getId()), "getLeader disagrees");
        check(leader.getParticipants().size() == 3, "participants " + leader.getParticipants());
        latches.remove(leader);
        leader.close();
        LeaderLatch next = waitForOneLeader(latches);
        check(next != leader, "leadership did not move");
        for (LeaderLatch l : latches)
            l.close();
    }

    static LeaderLatch leaderOf(List<LeaderLatch> latches) {
        LeaderLatch found = null;
        for (LeaderLatch l : latches) {
            if (l.hasLeadership()) {
                if (found != null)
                    throw new AssertionError("two leaders: " + found.getId() + ", " + l.getId());
                found = l;
            }
        }
        return found;
    }

    static LeaderLatch waitForOneLeader(List<LeaderLatch> latches) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (System.nanoTime() < deadline) {
            LeaderLatch l = leaderOf(latches);
            if (l != null)
                return l;
            Thread.sleep(20);
        }
        throw new AssertionError("no leader among " + latches.size());
    }

    // Three selectors with autoRequeue: each leads in turn, never two at once.
    static void leaderSelector() throws Exception {
        String path = base + "/selector";
        AtomicInteger leading = new AtomicInteger(), turns = new AtomicInteger();
        CountDownLatch sixTurns = new CountDownLatch(6);
        List<LeaderSelector> selectors = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            LeaderSelector sel = new LeaderSelector(client(), path,
                    new LeaderSelectorListenerAdapter() {
                        @Override
                        public void takeLeadership(CuratorFramework c) throws Exception {
                            check(leading.incrementAndGet() == 1, "two selectors lead");
                            Thread.sleep(30);
                            turns.incrementAndGet();
                            leading.decrementAndGet();
                            sixTurns.countDown();
                        }
                    });
            sel.autoRequeue();
            sel.start();
            selectors.add(sel);
        }
        await(sixTurns, "six leadership turns");
        for (LeaderSelector sel : selectors)
            sel.close();
        check(leading.get() == 0, "still leading after close");
    }

    // A semaphore of 2 leases among 4 clients: never more than 2 held.
    static void semaphore() throws Exception {
        String path = base + "/semaphore";
        AtomicInteger held = new AtomicInteger(), most = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            InterProcessSemaphoreV2 sem = new InterProcessSemaphoreV2(client(), path, 2);
            done.add(pool.submit(() -> {
                for (int k = 0; k < 3; k++) {
                    Lease lease = sem.acquire(WAIT_S, TimeUnit.SECONDS);
                    check(lease != null, "no lease");
                    most.accumulateAndGet(held.incrementAndGet(), Math::max);
                    Thread.sleep(10);
                    held.decrementAndGet();
                    sem.returnLease(lease);
                }
                return null;
            }));
        }
        for (Future<?> f : done)
            f.get(WAIT_S * 2, TimeUnit.SECONDS);
        pool.shutdown();
        check(most.get() <= 2 && most.get() >= 1, "leases held at once: " + most.get());
        CuratorFramework c = client();
        InterProcessSemaphoreV2 probe = new InterProcessSemaphoreV2(c, path, 2);
        Collection<Lease> two = probe.acquire(2, WAIT_S, TimeUnit.SECONDS);
        check(two != null && two.size() == 2, "two leases");
        check(probe.acquire(200, TimeUnit.MILLISECONDS) == null, "a third lease was granted");
        probe.returnAll(two);
    }

    // Read-write lock: two readers at once, the writer alone; mutex, semaphore mutex, multi.
    static void locks() throws Exception {
        String path = base + "/rwlock";
        InterProcessReadWriteLock a = new InterProcessReadWriteLock(client(), path);
        InterProcessReadWriteLock w = new InterProcessReadWriteLock(client(), path);
        check(a.readLock().acquire(WAIT_S, TimeUnit.SECONDS), "read lock");
        InterProcessReadWriteLock r2 = new InterProcessReadWriteLock(client(), path);
        check(r2.readLock().acquire(WAIT_S, TimeUnit.SECONDS), "second read lock");
        check(!w.writeLock().acquire(300, TimeUnit.MILLISECONDS), "write lock beside readers");
        a.readLock().release();
        r2.readLock().release();
        check(w.writeLock().acquire(WAIT_S, TimeUnit.SECONDS), "write lock once readers left");
        check(!a.readLock().acquire(300, TimeUnit.MILLISECONDS), "read lock beside the writer");
        w.writeLock().release();

        InterProcessSemaphoreMutex m1 = new InterProcessSemaphoreMutex(client(), base + "/smx");
        InterProcessSemaphoreMutex m2 = new InterProcessSemaphoreMutex(client(), base + "/smx");
        check(m1.acquire(WAIT_S, TimeUnit.SECONDS), "semaphore mutex");
        check(!m2.acquire(300, TimeUnit.MILLISECONDS), "semaphore mutex held twice");
        m1.release();
        check(m2.acquire(WAIT_S, TimeUnit.SECONDS), "semaphore mutex after release");
        m2.release();

        CuratorFramework c = client();
        InterProcessMultiLock multi = new InterProcessMultiLock(c,
                Arrays.asList(base + "/ml/a", base + "/ml/b"));
        check(multi.acquire(WAIT_S, TimeUnit.SECONDS), "multi lock");
        check(multi.isAcquiredInThisProcess(), "multi lock not held");
        multi.release();
    }

    // Barrier: waiters block until removed; double barrier: 3 members enter and leave together.
    static void barriers() throws Exception {
        DistributedBarrier barrier = new DistributedBarrier(client(), base + "/barrier");
        barrier.setBarrier();
        CountDownLatch passed = new CountDownLatch(1);
        DistributedBarrier waiter = new DistributedBarrier(client(), base + "/barrier");
        Thread t = new Thread(() -> {
            try {
                if (waiter.waitOnBarrier(WAIT_S, TimeUnit.SECONDS))
                    passed.countDown();
            } catch (Exception e) {
                e.printStackTrace();
            }
        });
        t.start();
        check(!passed.await(300, TimeUnit.MILLISECONDS), "passed a set barrier");
        barrier.removeBarrier();
        await(passed, "the barrier's waiter");
        t.join();

        int n = 3;
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<Future<Boolean>> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            DistributedDoubleBarrier dbl = new DistributedDoubleBarrier(client(),
                    base + "/double", n);
            all.add(pool.submit(() -> dbl.enter(WAIT_S, TimeUnit.SECONDS) &&
                                       dbl.leave(WAIT_S, TimeUnit.SECONDS)));
        }
        for (Future<Boolean> f : all)
            check(f.get(WAIT_S * 2, TimeUnit.SECONDS), "double barrier member timed out");
        pool.shutdown();
    }

    // SharedCount's versioned compare-and-set and its listener; DistributedAtomicLong.
    static void counters() throws Exception {
        SharedCount one = new SharedCount(client(), base + "/count", 0);
        SharedCount two = new SharedCount(client(), base + "/count", 0);
        one.start();
        two.start();
        BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
        two.addListener(new org.apache.curator.framework.recipes.shared.SharedCountListener() {
            @Override
            public void countHasChanged(org.apache.curator.framework.recipes.shared
                                                .SharedCountReader r, int v) {
                seen.add(v);
            }

            @Override
            public void stateChanged(CuratorFramework c, ConnectionState s) {}
        });
        VersionedValue<Integer> v = one.getVersionedValue();
        check(one.trySetCount(v, 5), "trySetCount");
        check(!one.trySetCount(v, 6), "trySetCount with a stale version succeeded");
        Integer got = seen.poll(WAIT_S, TimeUnit.SECONDS);
        check(got != null && got == 5, "listener saw " + got);
        one.close();
        two.close();

        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            DistributedAtomicLong counter = new DistributedAtomicLong(client(), base + "/along",
                    new RetryNTimes(100, 5));
            done.add(pool.submit(() -> {
                for (int k = 0; k < 25; k++) {
                    AtomicValue<Long> r = counter.increment();
                    check(r.succeeded(), "increment failed");
                }
                return null;
            }));
        }
        for (Future<?> f : done)
            f.get(WAIT_S * 2, TimeUnit.SECONDS);
        pool.shutdown();
        AtomicValue<Long> total = new DistributedAtomicLong(client(), base + "/along",
                new RetryNTimes(3, 5)).get();
        check(total.succeeded() && total.postValue() == 100, "counter " + total.postValue());
    }

    // A distributed queue (sequential children, consumer by watch) and the simple queue.
    static void queues() throws Exception {
        QueueSerializer<String> ser = new QueueSerializer<String>() {
            public byte[] serialize(String item) { return b(item); }

            public String deserialize(byte[] bytes) { return s(bytes); }
        };
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        QueueConsumer<String> consumer = new QueueConsumer<String>() {
            public void consumeMessage(String m) { got.add(m); }

            public void stateChanged(CuratorFramework c, ConnectionState s) {}
        };
        DistributedQueue<String> consumerQ = QueueBuilder.builder(client(), consumer, ser,
                base + "/queue").buildQueue();
        consumerQ.start();
        DistributedQueue<String> producer = QueueBuilder.builder(client(), null, ser,
                base + "/queue").buildQueue();
        producer.start();
        for (int i = 0; i < 20; i++)
            producer.put("m" + i);
        for (int i = 0; i < 20; i++) {
            String m = got.poll(WAIT_S, TimeUnit.SECONDS);
            check(("m" + i).equals(m), "item " + i + " was " + m);
        }
        producer.close();
        consumerQ.close();

        SimpleDistributedQueue q = new SimpleDistributedQueue(client(), base + "/simple");
        for (int i = 0; i < 5; i++)
            check(q.offer(b("s" + i)), "offer");
        for (int i = 0; i < 5; i++)
            check(("s" + i).equals(s(q.take())), "simple queue order");
        check(q.poll() == null, "an empty queue gave an item");
    }

    // Caches: PathChildrenCache, TreeCache and CuratorCache (a persistent recursive watch).
    static void caches() throws Exception {
        String root = base + "/caches";
        CuratorFramework w = client();
        w.create().creatingParentsIfNeeded().forPath(root + "/a", b("1"));
        BlockingQueue<String> pc = new LinkedBlockingQueue<>();
        PathChildrenCache children = new PathChildrenCache(client(), root, true);
        children.getListenable().addListener((c, e) -> {
            if (e.getType() != PathChildrenCacheEvent.Type.INITIALIZED &&
                e.getType() != PathChildrenCacheEvent.Type.CONNECTION_RECONNECTED)
                pc.add(e.getType() + " " + e.getData().getPath() + " " + s(e.getData().getData()));
        });
        children.start(PathChildrenCache.StartMode.POST_INITIALIZED_EVENT);
        BlockingQueue<String> tc = new LinkedBlockingQueue<>();
        CountDownLatch treeReady = new CountDownLatch(1);
        TreeCache tree = TreeCache.newBuilder(client(), root).build();
        tree.getListenable().addListener((c, e) -> {
            if (e.getType() == TreeCacheEvent.Type.INITIALIZED)
                treeReady.countDown();
            else if (e.getData() != null)
                tc.add(e.getType() + " " + e.getData().getPath());
        });
        tree.start();
        await(treeReady, "TreeCache initialized");
        tc.clear();
        BlockingQueue<String> cc = new LinkedBlockingQueue<>();
        CountDownLatch curatorReady = new CountDownLatch(1);
        CuratorCache cache = CuratorCache.build(client(), root);
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreates(n -> cc.add("create " + n.getPath()))
                .forChanges((o, n) -> cc.add("change " + n.getPath() + " " + s(n.getData())))
                .forDeletes(o -> cc.add("delete " + o.getPath()))
                .forInitialized(curatorReady::countDown)
                .build());
        cache.start();
        await(curatorReady, "CuratorCache initialized");
        cc.clear();
        check(("CHILD_ADDED " + root + "/a 1").equals(pc.poll(WAIT_S, TimeUnit.SECONDS)),
              "PathChildrenCache initial child");

        w.create().forPath(root + "/b", b("2"));
        w.setData().forPath(root + "/a", b("3"));
        w.create().forPath(root + "/b/deep", b("4"));
        // the two caches fetch each node on its own: their events about different nodes
        // may come in either order (CuratorCache's single recursive watch keeps the order)
        expectAnyOrder(pc, "CHILD_ADDED " + root + "/b 2", "CHILD_UPDATED " + root + "/a 3");
        expectAnyOrder(tc, "NODE_ADDED " + root + "/b", "NODE_UPDATED " + root + "/a",
                       "NODE_ADDED " + root + "/b/deep");
        expect(cc, "create " + root + "/b", "change " + root + "/a 3",
               "create " + root + "/b/deep");
        w.delete().forPath(root + "/b/deep");
        expect(tc, "NODE_REMOVED " + root + "/b/deep");
        expect(cc, "delete " + root + "/b/deep");
        check(cache.get(root + "/a").map(d -> s(d.getData())).orElse("").equals("3"),
              "CuratorCache holds /a = 3");
        check(tree.getCurrentChildren(root).keySet().equals(
                new java.util.HashSet<>(Arrays.asList("a", "b"))), "TreeCache children");
        children.close();
        tree.close();
        cache.close();
    }

    static void expectAnyOrder(BlockingQueue<String> q, String... want)
            throws InterruptedException {
        List<String> got = new ArrayList<>();
        for (int i = 0; i < want.length; i++)
            got.add(q.poll(WAIT_S, TimeUnit.SECONDS));
        List<String> sortedWant = new ArrayList<>(Arrays.asList(want));
        Collections.sort(sortedWant);
        List<String> sortedGot = new ArrayList<>(got);
        sortedGot.removeIf(x -> x == null);
        Collections.sort(sortedGot);
        check(sortedWant.equals(sortedGot), "expected " + sortedWant + ", got " + got);
    }

    static void expect(BlockingQueue<String> q, String... want) throws InterruptedException {
        for (String w : want) {
            String got = q.poll(WAIT_S, TimeUnit.SECONDS);
            check(w.equals(got), "expected '" + w + "', got '" + got + "'");
        }
    }

    // PersistentNode keeps its ephemeral node through a lost connection; GroupMember lists
    // the group; PersistentTtlNode makes a TTL node (extendedTypesEnabled).
    static void nodes() throws Exception {
        CuratorFramework c = client();
        PersistentNode node = new PersistentNode(c, CreateMode.EPHEMERAL, false,
                base + "/pnode", b("here"));
        node.start();
        check(node.waitForInitialCreate(WAIT_S, TimeUnit.SECONDS), "PersistentNode created");
        CuratorFramework other = client();
        check(s(other.getData().forPath(base + "/pnode")).equals("here"), "PersistentNode data");
        other.delete().forPath(base + "/pnode"); // someone removes it: it comes back
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (other.checkExists().forPath(base + "/pnode") == null &&
               System.nanoTime() < deadline)
            Thread.sleep(20);
        check(other.checkExists().forPath(base + "/pnode") != null, "PersistentNode re-created");
        node.close();
        check(other.checkExists().forPath(base + "/pnode") == null, "PersistentNode left");

        GroupMember g1 = new GroupMember(client(), base + "/group", "one", b("1"));
        GroupMember g2 = new GroupMember(client(), base + "/group", "two", b("2"));
        g1.start();
        g2.start();
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        Map<String, byte[]> members = g1.getCurrentMembers();
        while (members.size() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(20);
            members = g1.getCurrentMembers();
        }
        check(members.keySet().equals(new java.util.HashSet<>(Arrays.asList("one", "two"))),
              "group " + members.keySet());
        g2.close();
        g1.close();

        PersistentTtlNode ttl = new PersistentTtlNode(client(), base + "/ttl", 5000, b("t"));
        ttl.start();
        check(ttl.waitForInitialCreate(WAIT_S, TimeUnit.SECONDS), "PersistentTtlNode created");
        check(s(other.getData().forPath(base + "/ttl")).equals("t"), "PersistentTtlNode data");
        ttl.close();
    }

    // Transactions, protected creates, containers, TTL nodes, watches added and removed,
    // the ensemble's configuration node and whoAmI: the framework calls behind the recipes.
    static void framework() throws Exception {
        CuratorFramework c = client();
        String p = base + "/fw";
        c.create().creatingParentContainersIfNeeded().forPath(p + "/x/y", b("y"));
        Stat st = c.checkExists().forPath(p + "/x");
        check(st != null && st.getEphemeralOwner() == 0, "container parent");
        CuratorOp op1 = c.transactionOp().create().forPath(p + "/t1", b("1"));
        CuratorOp op2 = c.transactionOp().setData().forPath(p + "/t1", b("2"));
        CuratorOp op3 = c.transactionOp().check().withVersion(0).forPath(p + "/x");
        List<CuratorTransactionResult> res = c.transaction().forOperations(op1, op2, op3);
        check(res.size() == 3, "transaction results " + res.size());
        check(s(c.getData().forPath(p + "/t1")).equals("2"), "transaction applied");
        try {
            c.transaction().forOperations(
                    c.transactionOp().create().forPath(p + "/t2"),
                    c.transactionOp().delete().withVersion(7).forPath(p + "/t1"));
            throw new AssertionError("a failing transaction succeeded");
        } catch (KeeperException.BadVersionException expected) {
        }
        check(c.checkExists().forPath(p + "/t2") == null, "failed transaction left /t2");

        String made = c.create().withProtection().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                .forPath(p + "/prot-", b("z"));
        check(made.contains("_c_") && made.startsWith(p + "/"), "protected name " + made);

        c.create().withTtl(60000).withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(p + "/ttl");
        check(c.checkExists().forPath(p + "/ttl") != null, "TTL node");

        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        Watcher w = e -> events.add(e.getType() + " " + e.getPath());
        c.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE).usingWatcher(w)
                .forPath(p);
        c.create().forPath(p + "/x/z");
        c.setData().forPath(p + "/x/z", b("2"));
        expect(events, "NodeCreated " + p + "/x/z", "NodeDataChanged " + p + "/x/z");
        c.watchers().remove(w).ofType(Watcher.WatcherType.Any).forPath(p);
        expect(events, "PersistentWatchRemoved " + p);
        c.setData().forPath(p + "/x/z", b("3"));
        check(events.poll(300, TimeUnit.MILLISECONDS) == null, "event after the watch's removal");

        // a standalone ZooKeeper has no ensemble configuration to show (-Densemble=true: ours)
        String cfg = s(c.getConfig().forEnsemble());
        check(!Boolean.getBoolean("ensemble") ||
              (cfg.contains("server.") && cfg.contains("version=")), "configuration: " + cfg);
        check(!c.getZookeeperClient().getZooKeeper().whoAmI().isEmpty(), "whoAmI");
    }

    // -Dkill=COMMAND kills a member (the leader) while a client holds a lock and an ephemeral
    // node: the session lives on (never LOST), the lock stays held until released, the
    // ephemeral stays and takes a write.
    static void failover() throws Exception {
        String cmd = System.getProperty("kill");
        check(cmd != null, "-Dkill=COMMAND is needed");
        CuratorFramework a = client();
        BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
        a.getConnectionStateListenable().addListener((c, st) -> states.add(st));
        InterProcessMutex mutex = new InterProcessMutex(a, base + "/fo-lock");
        check(mutex.acquire(WAIT_S, TimeUnit.SECONDS), "lock");
        a.create().withMode(CreateMode.EPHEMERAL).forPath(base + "/fo-eph", b("before"));
        long session = a.getZookeeperClient().getZooKeeper().getSessionId();
        Process p = new ProcessBuilder("sh", "-c", cmd).inheritIO().start();
        check(p.waitFor(WAIT_S, TimeUnit.SECONDS) && p.exitValue() == 0, "kill command failed");
        a.setData().forPath(base + "/fo-eph", b("after")); // Curator retries until served
        check(session == a.getZookeeperClient().getZooKeeper().getSessionId(), "new session");
        CuratorFramework b = client();
        check(s(b.getData().forPath(base + "/fo-eph")).equals("after"), "ephemeral after");
        InterProcessMutex other = new InterProcessMutex(b, base + "/fo-lock");
        check(!other.acquire(500, TimeUnit.MILLISECONDS), "lock taken while its owner lives");
        mutex.release();
        check(other.acquire(WAIT_S, TimeUnit.SECONDS), "lock after its release");
        other.release();
        check(!states.contains(ConnectionState.LOST), "session lost: " + states);
    }

    public static void main(String[] args) throws Exception {
        hosts = args[0];
        base = args[1];
        Map<String, Check> checks = new LinkedHashMap<>();
        checks.put("leader_latch", CuratorRecipes::leaderLatch);
        checks.put("leader_selector", CuratorRecipes::leaderSelector);
        checks.put("semaphore", CuratorRecipes::semaphore);
        checks.put("locks", CuratorRecipes::locks);
        checks.put("barriers", CuratorRecipes::barriers);
        checks.put("counters", CuratorRecipes::counters);
        checks.put("queues", CuratorRecipes::queues);
        checks.put("caches", CuratorRecipes::caches);
        checks.put("nodes", CuratorRecipes::nodes);
        checks.put("framework", CuratorRecipes::framework);
        List<String> chosen = args.length > 2 ? Arrays.asList(args).subList(2, args.length)
                                              : new ArrayList<>(checks.keySet());
        checks.put("failover", CuratorRecipes::failover); // only when asked for
        int failed = 0;
        for (String name : chosen) {
            Check check = checks.get(name);
            if (check == null)
                throw new IllegalArgumentException("unknown check " + name);
            long t0 = System.nanoTime();
            try {
                check.run();
                System.out.printf("ok %s %.2fs%n", name, (System.nanoTime() - t0) / 1e9);
            } catch (Throwable e) {
                failed++;
                System.out.println("FAIL " + name + ": " + e);
                e.printStackTrace(System.out);
            } finally {
                for (CuratorFramework c : clients)
                    c.close();
                clients.clear();
            }
        }
        System.exit(failed);
    }
}
