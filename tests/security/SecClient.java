// A tiny Apache ZooKeeper Java client for the security tests (compiled by javac at test time;
// TLS, key stores and SASL come from the -Dzookeeper.* flags the test gives the JVM).
//   java SecClient HOST:PORT PATH [ACL [WAIT_SECONDS]]
// Waits up to WAIT_SECONDS (10) for the session, then: create PATH with data "java" (ACL "open", the
// default, or "x509:ID" / "sasl:ID" with all permissions), getData PATH, whoAmI. Prints
// "CONNECTED", "CREATED PATH", "DATA <text>", one "WHOAMI <scheme> <user>" per identity, and
// exits 0; exits 3 with "NOT CONNECTED" when no session is made, 4 with "ERROR <code>" when
// the server answers an operation with an error.
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;

public class SecClient {
    public static void main(String[] args) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(args[0], 10000, e -> {
            if (e.getState() == KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        int wait = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        if (!connected.await(wait, TimeUnit.SECONDS)) {
            System.out.println("NOT CONNECTED");
            System.out.flush();
            Runtime.getRuntime().halt(3);
        }
        System.out.println("CONNECTED");
        List<ACL> acl = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        if (args.length > 2 && !args[2].equals("open")) {
            String[] si = args[2].split(":", 2);
            acl = Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id(si[0], si[1])));
        }
        try {
            String path = zk.create(args[1], "java".getBytes(StandardCharsets.UTF_8), acl,
                                    CreateMode.PERSISTENT);
            System.out.println("CREATED " + path);
            byte[] data = zk.getData(args[1], false, null);
            System.out.println("DATA " + new String(data, StandardCharsets.UTF_8));
            for (ClientInfo ci : zk.whoAmI()) {
                System.out.println("WHOAMI " + ci.getAuthScheme() + " " + ci.getUser());
            }
        } catch (KeeperException e) {
            System.out.println("ERROR " + e.code());
            System.out.flush();
            Runtime.getRuntime().halt(4);
        }
        zk.close(2000);
        System.out.flush();
        Runtime.getRuntime().halt(0); // not waiting for Netty's quiet period
    }
}
