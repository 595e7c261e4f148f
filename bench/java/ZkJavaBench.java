/*
 * Load generator on the official Java client (Apache ZooKeeper 3.8) and Curator, for
 * bench/vs-zookeeper --tls: unlike bench/zkbench (Debian's C client is built without SSL), the
 * Java client's Netty socket speaks TLS, so one generator measures plaintext and TLS alike.
 * Like zkbench it prints one "RESULT key=value ..." line (latencies in ms).
 *
 *   java -cp CP [-D...] bench/java/ZkJavaBench.java create|get --connect S [--clients 16]
 *        [--depth 16] [--seconds 10] [--warmup 2] [--size 100] [--root /zkjbench]
 *       --clients ZooKeeper sessions, each keeping --depth asynchronous creates of --size-byte
 *       persistent nodes in flight (a completion records its latency and sends that slot's next
 *       create). ops/s and p50/p99/p999/max latency inside the window after --warmup, and the
 *       generator's own CPU (client_cpu_pct, 100 = one core). The nodes made are deleted after
 *       the window (same pipeline, not reported). get: the same with getData of one --size-byte
 *       node (no disk, no quorum: the round trip to the member the session is on).
 *   java ... ZkJavaBench.java lock --connect S [--contenders 4] [--seconds 10] [--warmup 2]
 *       --contenders threads, each with its own CuratorFramework (session) and an
 *       InterProcessMutex on one path, acquire and release in a loop with no work in between.
 *       cycles/s and the hand-off latency: from a holder calling release() to the next
 *       acquire() returning (with 1 contender: a whole release + acquire).
 *
 * Both take [--server-pids P1,P2,...] (the members' pids, on this machine): their CPU time
 * (utime + stime from /proc/PID/stat, summed) inside the window is printed as server_cpu_pct
 * (100 = one core) and server_cpu_us_per_op (per create, or per lock cycle).
 *
 * CP: /usr/share/java/curator-recipes.jar (its manifest brings curator-framework/-client, guava,
 * zookeeper.jar, zookeeper-jute), netty-codec, netty-resolver, netty-transport-native-unix-common
 * (zookeeper.jar's manifest lacks them; the Netty socket needs them) and slf4j-simple.
 *
 * Both modes use the Netty client socket (zookeeper.clientCnxnSocket=...ClientCnxnSocketNetty)
 * unless that property is given, so plaintext and TLS differ only in TLS. TLS is the Java
 * client's own: -Dzookeeper.client.secure=true, -Dzookeeper.ssl.keyStore.location=<PEM key +
 * cert>, -Dzookeeper.ssl.trustStore.location=<PEM CA> (and .type=PEM); hostname verification
 * (zookeeper.ssl.hostnameVerification) stays at its default, on.
 */
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

public class ZkJavaBench {
    static final int SESSION_MS = 30000;

    /** Growable array of latencies in ns; each is filled by one thread. */
    static final class Lat {
        long[] v = new long[1 << 12];
        int n;

        void add(long x) {
            if (n == v.length)
                v = Arrays.copyOf(v, n * 2);
            v[n++] = x;
        }
    }

    static long[] merge(List<Lat> lats) {
        int total = 0;
        for (Lat l : lats)
            total += l.n;
        long[] all = new long[total];
        int at = 0;
        for (Lat l : lats) {
            System.arraycopy(l.v, 0, all, at, l.n);
            at += l.n;
        }
        Arrays.sort(all);
        return all;
    }

    static double q(long[] sorted, double q) {
        if (sorted.length == 0)
            return 0;
        return sorted[Math.min(sorted.length - 1, (int) (q * sorted.length))] / 1e6;
    }

    static String latency(String prefix, long[] s) {
        return String.format(" %sp50_ms=%.3f %sp99_ms=%.3f %sp999_ms=%.3f %smax_ms=%.3f", prefix,
                q(s, 0.5), prefix, q(s, 0.99), prefix, q(s, 0.999), prefix,
                s.length == 0 ? 0.0 : s[s.length - 1] / 1e6);
    }

    static long cpuNs() {
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean)
            return ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime();
        return 0;
    }

    /** Summed utime + stime of the given processes, in ns (/proc/PID/stat; clock ticks of 10 ms). */
    static long serverCpuNs(String pids) {
        if (pids == null)
            return 0;
        long ticks = 0;
        for (String p : pids.split(",")) {
            try {
                String st = new String(java.nio.file.Files.readAllBytes(java.nio.file.Paths.get("/proc", p, "stat")));
                String[] f = st.substring(st.lastIndexOf(')') + 2).split(" ");
                ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15
            } catch (Exception e) {
                System.err.println("ZkJavaBench: cannot read /proc/" + p + "/stat: " + e);
            }
        }
        return ticks * 10000000L;
    }

    static String serverCpu(String pids, long ns, double seconds, long ops) {
        if (pids == null)
            return "";
        return String.format(" server_cpu_pct=%.0f server_cpu_us_per_op=%.1f", 100.0 * ns / 1e9 / seconds,
                ops > 0 ? ns / 1e3 / ops : 0.0);
    }

    static int tls() { return Boolean.getBoolean("zookeeper.client.secure") ? 1 : 0; }

    static void sleepUntil(long deadlineNs) throws InterruptedException {
        long left;
        while ((left = deadlineNs - System.nanoTime()) > 0)
            Thread.sleep(Math.max(1, Math.min(100, left / 1000000)));
    }

    static ZooKeeper connect(String hosts) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hosts, SESSION_MS, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected)
                up.countDown();
        });
        if (!up.await(30, TimeUnit.SECONDS)) {
            zk.close();
            throw new IllegalStateException("no session with " + hosts + " after 30 s");
        }
        return zk;
    }

    // ---- create ---------------------------------------------------------------------------

    static final class Client {
        ZooKeeper zk;
        int id;
        final AtomicLong seq = new AtomicLong(); // creates issued: node names c<id>-<seq>
        final Lat lat = new Lat();
        long errors;
    }

    static int ops(String op, Map<String, String> o) throws Exception {
        String hosts = o.get("connect");
        int clients = Integer.parseInt(o.getOrDefault("clients", "16"));
        int depth = Integer.parseInt(o.getOrDefault("depth", "16"));
        double seconds = Double.parseDouble(o.getOrDefault("seconds", "10"));
        double warmup = Double.parseDouble(o.getOrDefault("warmup", "2"));
        byte[] data = new byte[Integer.parseInt(o.getOrDefault("size", "100"))];
        Arrays.fill(data, (byte) 'x');
        String root = o.getOrDefault("root", "/zkjbench");
        String base = root + "/r" + ProcessHandle.current().pid() + "-" + System.currentTimeMillis();

        List<Client> cl = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            Client c = new Client();
            c.id = i;
            c.zk = connect(hosts);
            cl.add(c);
        }
        try {
            cl.get(0).zk.create(root, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException e) {
            // made by an earlier run
        }
        cl.get(0).zk.create(base, data, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        final boolean get = op.equals("get");

        final long recStart = System.nanoTime() + (long) (warmup * 1e9);
        final long recEnd = recStart + (long) (seconds * 1e9);
        final AtomicInteger inflight = new AtomicInteger(clients * depth);
        final CountDownLatch drained = new CountDownLatch(1);

        final class Cb implements AsyncCallback.StringCallback, AsyncCallback.DataCallback {
            @Override
            public void processResult(int rc, String path, Object ctx, String name) { done(rc, ctx); }

            @Override
            public void processResult(int rc, String path, Object ctx, byte[] d, org.apache.zookeeper.data.Stat st) {
                done(rc, ctx);
            }

            void done(int rc, Object ctx) {
                long t1 = System.nanoTime();
                Object[] slot = (Object[]) ctx; // {Client, long[]{t0}}
                Client c = (Client) slot[0];
                long t0 = ((long[]) slot[1])[0];
                if (rc != 0)
                    c.errors++;
                else if (t0 >= recStart && t1 <= recEnd)
                    c.lat.add(t1 - t0);
                if (t1 >= recEnd) {
                    if (inflight.decrementAndGet() == 0)
                        drained.countDown();
                    return;
                }
                issue(get, c, slot, base, data, this);
            }
        }
        Cb cb = new Cb();
        for (Client c : cl)
            for (int d = 0; d < depth; d++)
                issue(get, c, new Object[] {c, new long[1]}, base, data, cb);

        String pids = o.get("server-pids");
        sleepUntil(recStart);
        long cpu0 = cpuNs(), srv0 = serverCpuNs(pids);
        sleepUntil(recEnd);
        long cpu1 = cpuNs(), srv1 = serverCpuNs(pids);
        if (!drained.await(60, TimeUnit.SECONDS))
            System.err.println("ZkJavaBench: " + inflight.get() + " creates unanswered 60 s after the window");

        List<Lat> lats = new ArrayList<>();
        long errors = 0;
        for (Client c : cl) {
            lats.add(c.lat);
            errors += c.errors;
        }
        long[] all = merge(lats);
        System.out.printf("RESULT kind=ops op=%s client=java tls=%d clients=%d depth=%d size=%d "
                + "seconds=%.2f ops=%d ops_per_s=%.0f%s errors=%d client_cpu_pct=%.0f%s%n",
                op, tls(), clients, depth, data.length, seconds, all.length, all.length / seconds,
                latency("", all), errors, 100.0 * (cpu1 - cpu0) / 1e9 / seconds,
                serverCpu(pids, srv1 - srv0, seconds, all.length));
        System.out.flush();

        // Delete what the run made, depth at a time per session.
        Semaphore window = new Semaphore(clients * depth);
        AtomicLong delErrors = new AtomicLong();
        AsyncCallback.VoidCallback done = (rc, path, ctx) -> {
            if (rc != 0 && rc != KeeperException.Code.NONODE.intValue())
                delErrors.incrementAndGet();
            window.release();
        };
        for (Client c : cl)
            for (long s = 0; s < c.seq.get(); s++) {
                window.acquire();
                c.zk.delete(base + "/c" + c.id + "-" + s, -1, done, null);
            }
        window.acquire(clients * depth);
        try {
            cl.get(0).zk.delete(base, -1);
        } catch (KeeperException e) {
            System.err.println("ZkJavaBench: delete " + base + ": " + e);
        }
        for (Client c : cl)
            c.zk.close();
        return errors == 0 && delErrors.get() == 0 ? 0 : 1;
    }

    static <T extends AsyncCallback.StringCallback & AsyncCallback.DataCallback> void issue(boolean get, Client c,
            Object[] slot, String base, byte[] data, T cb) {
        ((long[]) slot[1])[0] = System.nanoTime();
        if (get)
            c.zk.getData(base, false, (AsyncCallback.DataCallback) cb, slot);
        else
            c.zk.create(base + "/c" + c.id + "-" + c.seq.getAndIncrement(), data, ZooDefs.Ids.OPEN_ACL_UNSAFE,
                CreateMode.PERSISTENT, cb, slot);
    }

    // ---- lock -----------------------------------------------------------------------------

    static int lock(Map<String, String> o) throws Exception {
        String hosts = o.get("connect");
        int contenders = Integer.parseInt(o.getOrDefault("contenders", "4"));
        double seconds = Double.parseDouble(o.getOrDefault("seconds", "10"));
        double warmup = Double.parseDouble(o.getOrDefault("warmup", "2"));
        String root = o.getOrDefault("root", "/zkjbench");
        String path = root + "/lock-" + ProcessHandle.current().pid() + "-" + System.currentTimeMillis();

        List<CuratorFramework> clients = new ArrayList<>();
        for (int i = 0; i < contenders; i++) {
            CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, SESSION_MS, 15000,
                    new ExponentialBackoffRetry(100, 3));
            c.start();
            if (!c.blockUntilConnected(30, TimeUnit.SECONDS))
                throw new IllegalStateException("no session with " + hosts + " after 30 s");
            clients.add(c);
        }
        final long recStart = System.nanoTime() + (long) (warmup * 1e9);
        final long recEnd = recStart + (long) (seconds * 1e9);
        final AtomicLong releasedAt = new AtomicLong(0);
        final AtomicLong cycles = new AtomicLong(), errors = new AtomicLong();
        final List<Lat> lats = new ArrayList<>();
        final AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < contenders; i++) {
            InterProcessMutex m = new InterProcessMutex(clients.get(i), path);
            Lat lat = new Lat();
            lats.add(lat);
            Thread t = new Thread(() -> {
                while (!stop.get()) {
                    try {
                        if (!m.acquire(5, TimeUnit.SECONDS))
                            continue;
                    } catch (Exception e) {
                        errors.incrementAndGet();
                        try { Thread.sleep(10); } catch (InterruptedException ie) { return; }
                        continue;
                    }
                    long t1 = System.nanoTime();
                    long rel = releasedAt.get();
                    if (t1 >= recStart && t1 <= recEnd) {
                        cycles.incrementAndGet();
                        if (rel >= recStart)
                            lat.add(t1 - rel);
                    }
                    releasedAt.set(System.nanoTime());
                    try {
                        m.release();
                    } catch (Exception e) {
                        errors.incrementAndGet();
                    }
                }
            }, "contender-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        String pids = o.get("server-pids");
        sleepUntil(recStart);
        long cpu0 = cpuNs(), srv0 = serverCpuNs(pids);
        sleepUntil(recEnd);
        long cpu1 = cpuNs(), srv1 = serverCpuNs(pids);
        stop.set(true);
        for (Thread t : threads)
            t.join(30000);
        long[] h = merge(lats);
        System.out.printf("RESULT kind=lock client=curator tls=%d contenders=%d seconds=%.2f cycles=%d "
                + "cycles_per_s=%.1f%s errors=%d client_cpu_pct=%.0f%s%n", tls(), contenders, seconds,
                cycles.get(), cycles.get() / seconds, latency("handoff_", h), errors.get(),
                100.0 * (cpu1 - cpu0) / 1e9 / seconds, serverCpu(pids, srv1 - srv0, seconds, cycles.get()));
        System.out.flush();
        try {
            clients.get(0).delete().deletingChildrenIfNeeded().forPath(path);
        } catch (Exception e) {
            System.err.println("ZkJavaBench: delete " + path + ": " + e);
        }
        for (CuratorFramework c : clients)
            c.close();
        return errors.get() == 0 ? 0 : 1;
    }

    // ---- main -----------------------------------------------------------------------------

    static void usage() {
        System.err.println("usage: ZkJavaBench create|get --connect S [--clients N] [--depth N] [--seconds S]"
                + " [--warmup S] [--size BYTES] [--root PATH] [--server-pids P,...]\n"
                + "       ZkJavaBench lock --connect S [--contenders N] [--seconds S] [--warmup S] [--root PATH]"
                + " [--server-pids P,...]");
        System.exit(2);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1)
            usage();
        Map<String, String> o = new HashMap<>();
        for (int i = 1; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length)
                usage();
            o.put(args[i].substring(2), args[++i]);
        }
        if (!o.containsKey("connect"))
            usage();
        if (System.getProperty("zookeeper.clientCnxnSocket") == null)
            System.setProperty("zookeeper.clientCnxnSocket", "org.apache.zookeeper.ClientCnxnSocketNetty");
        int rc;
        switch (args[0]) {
        case "create":
        case "get": rc = ops(args[0], o); break;
        case "lock": rc = lock(o); break;
        default: usage(); return;
        }
        System.exit(rc);
    }
}
