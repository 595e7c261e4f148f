"""Shared helpers for the security suite (tests/security), used against both Apache ZooKeeper 3.8
(the reference) and zabkeeper.

Environment (ctest sets them; defaults let a file run by hand):
  ZK_SERVER_KIND  zookeeper | zabkeeper (default zookeeper)
  SEC_PORT        first of the ports the file may use (see each file for its layout)
  ZK_TEST_DIR     where servers, compiled Java and scratch files go (wiped per server)
  SEC_PKI_DIR     certificates made by pki.py (made here when missing)
  ZABKEEPER_BIN   passed through to serverctl

What is here:
  - the zoo.cfg lines of ZooKeeper's client TLS (tls_config) and how a server is started with
    extra zoo.cfg lines and JVM flags (start_server, through tests/harness/serverctl);
  - client-side TLS: ssl contexts, a raw jute connection over TLS (TlsConn), the outcome of one
    connection attempt (attempt: "session" or "refused: why"), kazoo clients over TLS;
  - whoAmI (opcode 107, which kazoo 2.8 lacks) for kazoo and raw connections;
  - the Apache ZooKeeper Java client (SecClient.java, compiled with javac at test time) and zkCli.
Every wait is bounded.
"""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.abspath(os.path.join(HERE, "..", ".."))
SERVERCTL = os.path.join(PROJECT, "tests", "harness", "serverctl")
sys.path.insert(0, os.path.join(PROJECT, "tests", "compat"))
sys.path.insert(0, os.path.join(PROJECT, "tests", "integration"))

import zkwire  # noqa: E402  (tests/compat: jute framing by hand)
from serverprocs import pid_alive, read_pid, zookeeper_classpath  # noqa: E402  (tests/compat)
from ensemble import wait_for  # noqa: E402,F401  (tests/integration: bounded polling)
from pki import Pki  # noqa: E402

KIND = os.environ.get("ZK_SERVER_KIND", "zookeeper")
NETTY = "org.apache.zookeeper.server.NettyServerCnxnFactory"
X509_PROVIDER = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
OP_WHOAMI, OP_SASL = 107, 102
ZAUTHFAILED = -115
T = 15  # seconds: the bound for anything expected to happen


def base_port(default):
    return int(os.environ.get("SEC_PORT", str(default)))


def work_dir():
    d = os.environ.get("ZK_TEST_DIR")
    if not d:
        d = os.environ["ZK_TEST_DIR"] = tempfile.mkdtemp(prefix="zksec-")
    os.makedirs(d, exist_ok=True)
    return d


def make_pki():
    if not shutil.which("openssl"):
        pytest.skip("the openssl command is not installed")
    return Pki(os.environ.get("SEC_PKI_DIR") or os.path.join(work_dir(), "pki")).make()


# ---------------------------------------------------------------- servers

def tls_config(pki, secure_port, client_auth="need", store="pem", member=1):
    """zoo.cfg lines of ZooKeeper 3.8's client TLS: the Netty factory (what ZooKeeper needs for
    TLS), secureClientPort, the member's key store (PEM: key + cert in one file, or PKCS12 with
    its password) and the CA as a PEM trust store."""
    who = "server%d" % member
    lines = ["secureClientPort=%d" % secure_port, "serverCnxnFactory=" + NETTY]
    if store == "pem":
        lines += ["ssl.keyStore.location=" + pki.keystore(who), "ssl.keyStore.type=PEM"]
    else:
        from pki import P12_PASSWORD
        lines += ["ssl.keyStore.location=" + pki.p12(who), "ssl.keyStore.type=PKCS12",
                  "ssl.keyStore.password=" + P12_PASSWORD]
    lines += ["ssl.trustStore.location=" + pki.ca, "ssl.trustStore.type=PEM"]
    if client_auth is not None:
        lines.append("ssl.clientAuth=" + client_auth)
    return lines


class Server:
    def __init__(self, kind, dir_, port, secure_port):
        self.kind, self.dir, self.port, self.secure_port = kind, dir_, port, secure_port
        self.hosts = "127.0.0.1:%d" % port
        self.secure_hosts = "127.0.0.1:%d" % secure_port if secure_port else None

    def pid(self):
        return read_pid(self.dir)

    def alive(self):
        return pid_alive(self.pid())

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def mntr(self):
        out = {}
        for line in zkwire.four_letter(self.port, "mntr").splitlines():
            k, _, v = line.partition("\t")
            out[k] = v
        return out

    def sessions(self):
        """zk_global_sessions of mntr: the number of live sessions (both servers print it)."""
        return int(self.mntr()["zk_global_sessions"])

    def stop(self):
        """Stops the server; fails the test if it had died meanwhile."""
        if self.pid() is None:
            return
        crashed = not self.alive()
        subprocess.run([SERVERCTL, "stop", self.dir], timeout=60)
        if crashed:
            pytest.fail("%s died during the tests; tail of %s/server.log:\n%s" % (
                self.kind, self.dir, self.log()[-3000:]))


def port_free(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except OSError:
        return True


def start_server(name, port, cfg=(), flags=(), env=None, secure_port=None, kind=None):
    """Starts a fresh server in ZK_TEST_DIR/name through serverctl: clientPort=port plus the zoo.cfg
    lines cfg, JVM system properties flags ("-Dk=v": ZooKeeper's java command line, zabkeeper's
    own) and env (e.g. SERVER_JVMFLAGS). serverctl returns once srvr answers on port and, with
    secureClientPort, that port accepts connections. Fails the test if the server does not
    start."""
    kind = kind or KIND
    if kind == "zookeeper" and (not shutil.which("java")
                                or not os.path.exists("/usr/share/java/zookeeper.jar")):
        pytest.skip("Apache ZooKeeper (java + /usr/share/java/zookeeper.jar) is not installed")
    d = os.path.join(work_dir(), name)
    if os.path.exists(os.path.join(d, "pid")):
        subprocess.run([SERVERCTL, "kill", d], timeout=30)
    shutil.rmtree(d, ignore_errors=True)
    for p in (port, secure_port):
        if p and not port_free(p):
            pytest.fail("port %d is already in use by another process" % p)
    full_env = dict(os.environ, ZK_TICK_TIME=os.environ.get("ZK_TICK_TIME", "500"))
    full_env.pop("SERVER_JVMFLAGS", None)
    full_env.update(env or {})
    r = subprocess.run([SERVERCTL, "start", kind, d, str(port)] + list(cfg) + list(flags),
                       env=full_env, timeout=90, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    srv = Server(kind, d, port, secure_port)
    if r.returncode != 0:
        log = srv.log()[-3000:]
        subprocess.run([SERVERCTL, "kill", d], timeout=30)
        pytest.fail("serverctl start %s (%s) failed: %s\ntail of server.log:\n%s" % (
            kind, name, r.stdout, log))
    return srv


# ---------------------------------------------------------------- client-side TLS

def ssl_context(pki, cert=None, ca="ca", verify=True):
    """A client context: trusts ca ("ca", "rogue-ca" or None for no verification of the server),
    presents the certificate `cert` (e.g. "client1") if given. Hostnames are not checked here
    (test_tls_client checks the SAN separately)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if ca and verify:
        ctx.load_verify_locations(pki.cert(ca))
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(pki.cert(cert), pki.key(cert))
    return ctx


class TlsConn(zkwire.Conn):
    """zkwire.Conn over TLS: the handshake happens in the constructor (ssl.SSLError if it fails);
    a TLS alert later counts as the connection being closed."""

    def __init__(self, port, ctx, timeout=10.0, host="127.0.0.1", server_hostname=None):
        raw = socket.create_connection((host, port), timeout=timeout)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=server_hostname)
        except BaseException:
            raw.close()
            raise
        self.sock.settimeout(timeout)
        self.buf = b""
        self.events = []

    def _fill(self, n):
        try:
            super()._fill(n)
        except (ssl.SSLError, ssl.SSLEOFError) as e:
            raise zkwire.Closed("tls: %s" % e)


def attempt(port, ctx=None, timeout=10.0):
    """One client connection attempt: TCP connect, the TLS handshake if ctx is given, a
    ConnectRequest, then the first reply. Returns ("session", conn) when a ConnectResponse
    arrives (the caller closes conn) or ("refused", why) when the server fails the handshake or
    closes the connection without one. Fails the test if the server neither answers nor closes
    within timeout."""
    try:
        conn = TlsConn(port, ctx, timeout) if ctx else zkwire.Conn(port, timeout)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        return "refused", "handshake: %s" % e
    except socket.timeout:
        pytest.fail("the TLS handshake on port %d neither completed nor failed in %.0fs"
                    % (port, timeout))
    try:
        conn.handshake()
        return "session", conn
    except (zkwire.Closed, ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        conn.close()
        return "refused", "after the handshake: %s" % e
    except socket.timeout:
        conn.close()
        pytest.fail("port %d neither answered the ConnectRequest nor closed in %.0fs"
                    % (port, timeout))


def assert_refused(server, port, ctx, what):
    """The attempt is refused and makes no session: no ConnectResponse, and mntr's
    zk_global_sessions does not grow (it may shrink: a session an earlier client left behind,
    zkCli's for one, can expire meanwhile)."""
    before = server.sessions()
    outcome, detail = attempt(port, ctx)
    if outcome == "session":
        sid = detail.session_id
        detail.close()
        pytest.fail("%s: the server made session 0x%x instead of refusing" % (what, sid))
    after = server.sessions()
    assert after <= before, "%s: the session count grew from %d to %d" % (what, before, after)
    print("%s: refused (%s)" % (what, detail))
    return detail


# ---------------------------------------------------------------- identities

def parse_whoami(body):
    """WhoAmIResponse{vector<ClientInfo{ustring authScheme, ustring user}>} -> set of pairs."""
    (n,), off, out = struct.unpack_from(">i", body, 0), 4, set()
    for _ in range(n):
        pair = []
        for _ in range(2):
            (ln,) = struct.unpack_from(">i", body, off)
            off += 4
            pair.append(body[off:off + max(ln, 0)].decode() if ln >= 0 else "")
            off += max(ln, 0)
        out.add(tuple(pair))
    return out


def raw_whoami(conn, xid=7000):
    rxid, _, err, body = conn.call(xid, OP_WHOAMI)
    assert err == 0, "whoAmI failed: %d" % err
    return parse_whoami(body)


class _WhoAmI:
    type = OP_WHOAMI

    def serialize(self):
        return b""

    @classmethod
    def deserialize(cls, b, offset):
        return parse_whoami(b[offset:])


def whoami(zk):
    """The identities (scheme, user) of a started KazooClient's connection, as a set (ZooKeeper
    keeps them in a hash set: their order is not defined)."""
    r = zk.handler.async_result()
    zk._call(_WhoAmI(), r)
    return r.get(timeout=T)


def kazoo_client(hosts, pki=None, cert=None, ca="ca", verify=True, start=True, **kw):
    """A KazooClient; over TLS when pki is given (use_ssl, ca=, certfile=/keyfile= for cert,
    verify_certs=verify)."""
    from kazoo.client import KazooClient
    kw.setdefault("timeout", 10.0)
    kw.setdefault("connection_retry", dict(max_tries=3, delay=0.1, max_delay=0.5))
    if pki is not None:
        kw.update(use_ssl=True, verify_certs=verify, ca=pki.cert(ca) if ca else None)
        if cert:
            kw.update(certfile=pki.cert(cert), keyfile=pki.key(cert))
    c = KazooClient(hosts=hosts, **kw)
    if start:
        c.start(timeout=T)
    return c


@pytest.fixture
def clients():
    """Make KazooClients (kazoo_client's arguments); all are stopped at teardown."""
    made = []

    def make(*a, start=True, **kw):
        c = kazoo_client(*a, start=False, **kw)
        made.append(c)
        if start:
            c.start(timeout=T)
        return c

    yield make
    zkwire.close_clients(*made)


# ---------------------------------------------------------------- Apache ZooKeeper's clients

def java_tls_props(pki, keystore=None, store="pem", ca="ca"):
    """-D flags of the Java client's TLS: secure, the Netty socket, key and trust stores."""
    props = ["-Dzookeeper.client.secure=true",
             "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
             "-Dzookeeper.ssl.trustStore.location=" + pki.cert(ca),
             "-Dzookeeper.ssl.trustStore.type=PEM"]
    if keystore and store == "pem":
        props += ["-Dzookeeper.ssl.keyStore.location=" + pki.keystore(keystore),
                  "-Dzookeeper.ssl.keyStore.type=PEM"]
    elif keystore:
        from pki import P12_PASSWORD
        props += ["-Dzookeeper.ssl.keyStore.location=" + pki.p12(keystore),
                  "-Dzookeeper.ssl.keyStore.type=PKCS12",
                  "-Dzookeeper.ssl.keyStore.password=" + P12_PASSWORD]
    return props


def java_client_dir():
    """Compiles SecClient.java once per process into ZK_TEST_DIR/java; skips without javac."""
    if not shutil.which("javac") or not os.path.exists("/usr/share/java/zookeeper.jar"):
        pytest.skip("javac (default-jdk-headless) or the zookeeper package is not installed")
    out = os.path.join(work_dir(), "java")
    cls, src = os.path.join(out, "SecClient.class"), os.path.join(HERE, "SecClient.java")
    if not os.path.exists(cls) or os.path.getmtime(cls) < os.path.getmtime(src):
        os.makedirs(out, exist_ok=True)
        subprocess.run(["javac", "-proc:none", "-implicit:none", "-cp", zookeeper_classpath(),
                        "-d", out, src],
                       check=True, timeout=120)
    return out


def run_java_client(hosts, path, props, acl="open", wait=10, timeout=60):
    """Runs SecClient (see SecClient.java) with the JVM flags props, waiting up to `wait` s for
    a session; returns (exit code, stdout lines)."""
    d = java_client_dir()
    p = subprocess.run(["java", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"] + props
                       + ["-cp", d + ":" + zookeeper_classpath(), "SecClient", hosts, path, acl,
                          str(wait)],
                       capture_output=True, text=True, timeout=timeout)
    print("java client rc=%d\n%s%s" % (p.returncode, p.stdout, p.stderr[-2000:]))
    return p.returncode, p.stdout.splitlines()


ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"


def zkcli(hosts, props, *command, timeout=60):
    """zkCli.sh -server HOSTS COMMAND... with the client's JVM flags in CLIENT_JVMFLAGS, as a user
    runs it. Debian's zkCli.sh puts only zookeeper.jar on its classpath, which lacks netty-codec
    (ClientCnxnSocketNetty needs it): CLIENT_JVMFLAGS comes after the script's -cp on the java
    command line, so a -cp there with the full classpath wins. Returns (rc, stdout + stderr):
    zkCli prints some results ("Created ...") on stderr."""
    if not os.path.exists(ZKCLI):
        pytest.skip("zkCli.sh (the zookeeper package) is not installed")
    env = dict(os.environ, CLIENT_JVMFLAGS=" ".join(
        ["-cp", zookeeper_classpath(), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"] + props))
    p = subprocess.run([ZKCLI, "-timeout", "10000", "-waitforconnection", "-server", hosts]
                       + list(command), capture_output=True, text=True, timeout=timeout,
                       env=env)
    print("zkCli %s rc=%d\n%s%s" % (" ".join(command), p.returncode, p.stdout,
                                     p.stderr[-2000:]))
    return p.returncode, p.stdout + p.stderr
