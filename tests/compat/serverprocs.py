"""Server processes of the tests: the pid file in a server's directory (serverctl's, and the
ones of Members) and whether that process lives; members of an ensemble run as child processes
of the test (Members: tests/compat/test_reconfig_compat.py, tests/cli/test_status_zookeeper.py,
tests/import/test_import.py), and the command line of Apache ZooKeeper 3.8's QuorumPeerMain
(Debian's package).

Member i lives in top/m<i>: zoo.cfg, data/myid, server.log, and while it runs a file `pid` that
ctest's clean-up tests kill.
"""
import os
import signal
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERCTL = os.path.join(HERE, "..", "harness", "serverctl")


def read_pid(d):
    """The pid in d/pid; None when there is no such file or it holds no number."""
    try:
        with open(os.path.join(d, "pid")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def pid_alive(pid):
    """True if pid (None: no process) is a live process; a zombie is not."""
    if pid is None:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def zookeeper_classpath():
    """Apache ZooKeeper's classpath (Debian's package), as tests/harness/serverctl gives it."""
    return subprocess.run([SERVERCTL, "classpath"], capture_output=True, text=True,
                          check=True).stdout.strip()


def quorum_peer_main(cfg, flags=(), heap="256m", classpath=None):
    """QuorumPeerMain on cfg in a small JVM that starts quickly, without the AdminServer, with
    flags (-D...) added; on zookeeper_classpath() unless classpath is given."""
    return (["java", "-Xmx" + heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-Dzookeeper.admin.enableServer=false"] + list(flags)
            + ["-cp", classpath or zookeeper_classpath(),
               "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg])


class Members:
    """Member processes by id, each in its own directory under top."""

    def __init__(self, top):
        self.top = top
        self.procs = {}

    def dir(self, i):
        return os.path.join(self.top, "m%d" % i)

    def data(self, i):
        return os.path.join(self.dir(i), "data")

    def cfg(self, i):
        return os.path.join(self.dir(i), "zoo.cfg")

    def write_config(self, i, lines):
        """Member i's data/myid and its zoo.cfg of these lines."""
        os.makedirs(self.data(i), exist_ok=True)
        with open(os.path.join(self.data(i), "myid"), "w") as f:
            f.write("%d\n" % i)
        with open(self.cfg(i), "w") as f:
            f.write("\n".join(lines) + "\n")

    def launch(self, i, argv):
        """Start member i as argv, its output appended to server.log."""
        with open(os.path.join(self.dir(i), "server.log"), "ab") as log:
            self.procs[i] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
        with open(os.path.join(self.dir(i), "pid"), "w") as f:  # for ctest's clean-up
            f.write("%d\n" % self.procs[i].pid)

    def stop(self, i, sig=signal.SIGKILL):
        """Signal member i and wait for it (nothing when it does not run)."""
        p = self.procs.pop(i, None)
        if p:
            p.send_signal(sig)
            p.wait(30)
            os.unlink(os.path.join(self.dir(i), "pid"))

    def stop_all(self, sig=signal.SIGKILL):
        for i in list(self.procs):
            self.stop(i, sig)
