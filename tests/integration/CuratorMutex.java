// Curator's InterProcessMutex against a ZooKeeper-protocol server, for test_robustness_client.py:
// acquires and releases the lock N times (each acquisition writes and deletes a node while the
// lock is held), then closes the client. The mutex makes its lock path's parents as containers.
//   java -cp CLASSPATH CuratorMutex HOSTS LOCKPATH N      prints "acquired N" on success
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryNTimes;

public class CuratorMutex {
    public static void main(String[] args) throws Exception {
        String hosts = args[0], path = args[1];
        int n = Integer.parseInt(args[2]);
        CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, 8000, 8000,
                new RetryNTimes(50, 200));
        c.start();
        if (!c.blockUntilConnected(15, TimeUnit.SECONDS)) {
            System.out.println("not connected");
            System.exit(2);
        }
        InterProcessMutex m = new InterProcessMutex(c, path);
        int got = 0;
        for (int i = 0; i < n; i++) {
            if (!m.acquire(15, TimeUnit.SECONDS)) {
                System.out.println("lock not acquired");
                System.exit(3);
            }
            try {
                c.create().forPath("/curator-held-" + i, new byte[] {1});
                c.delete().forPath("/curator-held-" + i);
                got++;
            } finally {
                m.release();
            }
        }
        c.close();
        System.out.println("acquired " + got);
    }
}
