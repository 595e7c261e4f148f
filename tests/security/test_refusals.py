"""zabkeeper only: a security setting of Apache ZooKeeper that zabkeeper does not implement stops
the start with a message naming it, whether it comes from zoo.cfg, as -Dzookeeper.<key>=... on
zabkeeper's command line, or in $SERVER_JVMFLAGS. Running with such a setting silently ignored
would leave a member less protected than its operator believes.

Each case writes a fresh zoo.cfg (the base lines below; a complete client TLS configuration, or
member 1 of a 3-member ensemble with quorum TLS, when the setting belongs there; plus the
setting), runs `zabkeeper [-D...] zoo.cfg` and waits (bounded) for it either to exit or to
answer srvr: it must exit non-zero and its output must name the setting (the key; for a store
type, the store and the type). Controls: the same configurations without the setting start, so
a refusal is the setting's doing. Ports: SEC_PORT (clientPort), SEC_PORT+1 (secureClientPort),
SEC_PORT+2..+9 (the quorum configuration's peer, election and other client ports).
"""
import os
import shutil
import subprocess
import time

import pytest

import zkwire
from sectools import (SASL_PROVIDER, X509_PROVIDER, base_port, port_free, tls_config,
                      work_dir)

B = base_port(26740)
NO_CLASS = "com.example.NoSuchAuthenticationProvider"


@pytest.fixture(scope="module")
def binary():
    b = os.environ.get("ZABKEEPER_BIN") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "src", "server",
        "zabkeeper")
    if not os.access(b, os.X_OK):
        pytest.skip("zabkeeper binary not built (ZABKEEPER_BIN)")
    return b


def jaas_file(name, body):
    p = os.path.join(work_dir(), name)
    with open(p, "w") as f:
        f.write(body)
    return p


GOOD_JAAS = """Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_bob="bobsecret";
};
"""
KERBEROS_JAAS = """Server {
  com.sun.security.auth.module.Krb5LoginModule required
  useKeyTab=true keyTab="/etc/zookeeper.keytab" principal="zookeeper/localhost@EXAMPLE.COM";
};
"""


def answers(port):
    """srvr gets an answer: the process is past its configuration and serves its client port
    (a quorum member without its ensemble answers too, that it is not serving)."""
    try:
        return bool(zkwire.four_letter(port, "srvr", timeout=1))
    except OSError:
        return False


def run(binary, cfg, args=(), env=None, timeout=15.0, myid=None):
    """Runs zabkeeper on a fresh zoo.cfg (base lines + cfg; myid: write dataDir/myid). Returns
    ("exited", rc, output), or ("up", None, output) once srvr answers (the process is then
    stopped)."""
    d = os.path.join(work_dir(), "refusal")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "data"))
    if myid:
        with open(os.path.join(d, "data", "myid"), "w") as f:
            f.write("%d\n" % myid)
    for p in range(B, B + 10):
        assert port_free(p), "port %d is in use" % p
    zoo = os.path.join(d, "zoo.cfg")
    with open(zoo, "w") as f:
        f.write("\n".join(["tickTime=500", "dataDir=" + os.path.join(d, "data"),
                           "clientPort=%d" % B, "4lw.commands.whitelist=*",
                           "admin.enableServer=false"] + list(cfg)) + "\n")
    out = open(os.path.join(d, "output"), "w+")
    full_env = dict(os.environ)
    full_env.pop("SERVER_JVMFLAGS", None)
    full_env.update(env or {})
    p = subprocess.Popen([binary] + list(args) + [zoo], stdout=out, stderr=subprocess.STDOUT,
                         env=full_env)
    deadline = time.monotonic() + timeout
    try:
        while True:
            rc = p.poll()
            if rc is not None:
                out.seek(0)
                return "exited", rc, out.read()
            if answers(B):
                out.seek(0)
                return "up", None, out.read()
            if time.monotonic() > deadline:
                out.seek(0)
                pytest.fail("zabkeeper neither exited nor served within %.0fs:\n%s"
                            % (timeout, out.read()[-2000:]))
            time.sleep(0.05)
    finally:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        out.close()


def expect_refused(binary, names, cfg=(), args=(), env=None, myid=None, any_of=False):
    """zabkeeper exits non-zero and its output holds every one of names (any_of: one of
    them)."""
    what, rc, output = run(binary, cfg, args, env, myid=myid)
    print(output[-2000:])
    assert what == "exited", "zabkeeper started although %s is set:\n%s" % (
        names[0], output[-2000:])
    assert rc != 0, "zabkeeper exited 0 with %s set" % names[0]
    found = [n for n in names if n in output]
    assert (found if any_of else found == list(names)), \
        "the message does not name %s:\n%s" % (" or ".join(names) if any_of else names,
                                               output[-2000:])


def setting_names(setting):
    """What a message must hold to name a setting: the key; for a store type the store
    (ssl.keyStore, ssl.quorum.trustStore, ...) and the type it names will do."""
    key, value = setting.split("=", 1)
    if key.endswith("Store.type"):
        return [key[:-len(".type")], value]
    return [key]


def client_tls(pki):
    return tls_config(pki, B + 1, "need") + ["authProvider.x509=" + X509_PROVIDER]


def quorum_member(pki):
    """Member 1 of a 3-member ensemble (the others are not started) with quorum TLS: ports
    B+2..B+7 for peers and elections, B+8 and B+9 the others' client ports."""
    return (["initLimit=10", "syncLimit=5"]
            + ["server.%d=127.0.0.1:%d:%d;%d" % (i, B + 2 * i, B + 2 * i + 1,
                                                  B if i == 1 else B + 6 + i)
               for i in (1, 2, 3)]
            + ["sslQuorum=true",
               "ssl.quorum.keyStore.location=" + pki.keystore("server1"),
               "ssl.quorum.keyStore.type=PEM",
               "ssl.quorum.trustStore.location=" + pki.ca,
               "ssl.quorum.trustStore.type=PEM"])


# ---------------------------------------------------------------- controls

def test_control_base_config_serves(binary):
    assert run(binary, [])[0] == "up"


def test_control_client_tls_serves(binary, pki):
    what, _, output = run(binary, client_tls(pki))
    assert what == "up", output[-2000:]


def test_control_quorum_tls_member_starts(binary, pki):
    what, _, output = run(binary, quorum_member(pki), myid=1)
    assert what == "up", output[-2000:]


def test_control_sasl_jaas_serves(binary):
    jaas = jaas_file("good.jaas", GOOD_JAAS)
    for args, env in (((), {"SERVER_JVMFLAGS": "-Djava.security.auth.login.config=" + jaas}),
                      (("-Djava.security.auth.login.config=" + jaas,), None)):
        what, _, output = run(binary, ["authProvider.1=" + SASL_PROVIDER], args, env)
        assert what == "up", "%s %s: %s" % (args, env, output[-2000:])


def test_control_supported_values_as_flags(binary, pki):
    """ZooKeeper's system-property form of settings zabkeeper implements is taken too."""
    what, _, output = run(binary, client_tls(pki),
                          ["-Dzookeeper.ssl.keyStore.type=PEM", "-Dzookeeper.ssl.clientAuth=need"])
    assert what == "up", output[-2000:]


# ---------------------------------------------------------------- refusals in zoo.cfg

# (setting, the configuration it is added to: None, "client" TLS or a "quorum" TLS member)
ZOO_CFG_CASES = [
    # quorum SASL (Kerberos or DIGEST-MD5 between members)
    ("quorum.auth.enableSasl=true", "quorum"),
    ("quorum.auth.learnerRequireSasl=true", "quorum"),
    ("quorum.auth.serverRequireSasl=true", "quorum"),
    # key and trust store formats other than PEM and PKCS12
    ("ssl.keyStore.type=JKS", "client"),
    ("ssl.trustStore.type=JKS", "client"),
    ("ssl.keyStore.type=BCFKS", "client"),
    ("ssl.quorum.keyStore.type=JKS", "quorum"),
    ("ssl.quorum.trustStore.type=JKS", "quorum"),
    # Java classes and revocation checking
    ("authProvider.1=" + NO_CLASS, None),
    ("ssl.context.supplier.class=com.example.MySslContextSupplier", "client"),
    ("ssl.authProvider=mycustomscheme", "client"),
    ("ssl.ocsp=true", "client"),
    ("ssl.crl=true", "client"),
]


def base_for(pki, where, without=None):
    """The configuration a case adds its setting to, less any line of the key `without` (as
    in ZooKeeper, a zoo.cfg line would win over the same -Dzookeeper. property: ZooKeeper sets
    the property from zoo.cfg after the JVM started)."""
    cfg, myid = {"client": (client_tls(pki), None), "quorum": (quorum_member(pki), 1),
                 None: ([], None)}[where]
    if without:
        cfg = [line for line in cfg if line.split("=", 1)[0] != without]
    return cfg, myid


@pytest.mark.parametrize("setting,where", ZOO_CFG_CASES, ids=[c[0] for c in ZOO_CFG_CASES])
def test_refused_in_zoo_cfg(binary, pki, setting, where):
    cfg, myid = base_for(pki, where)
    expect_refused(binary, setting_names(setting), cfg + [setting], myid=myid)


# ---------------------------------------------------------------- refusals as JVM flags

FLAG_CASES = [
    ("quorum.auth.enableSasl=true", "quorum"),
    ("ssl.keyStore.type=JKS", "client"),
    ("ssl.trustStore.type=JKS", "client"),
    ("authProvider.1=" + NO_CLASS, None),
    ("ssl.ocsp=true", "client"),
]


@pytest.mark.parametrize("setting,where", FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
def test_refused_as_flag(binary, pki, setting, where):
    cfg, myid = base_for(pki, where, without=setting.split("=", 1)[0])
    expect_refused(binary, setting_names(setting), cfg, args=["-Dzookeeper." + setting],
                   myid=myid)


@pytest.mark.parametrize("setting,where", FLAG_CASES[:2], ids=[c[0] for c in FLAG_CASES[:2]])
def test_refused_in_server_jvmflags(binary, pki, setting, where):
    cfg, myid = base_for(pki, where, without=setting.split("=", 1)[0])
    expect_refused(binary, setting_names(setting), cfg, myid=myid,
                   env={"SERVER_JVMFLAGS": "-Dzookeeper." + setting})


# ---------------------------------------------------------------- SASL set-up zabkeeper lacks

def test_refused_kerberos_login_module(binary):
    """The message names the login module it cannot use, or at least the JAAS file."""
    jaas = jaas_file("kerberos.jaas", KERBEROS_JAAS)
    expect_refused(binary, ["Krb5LoginModule", jaas], ["authProvider.1=" + SASL_PROVIDER],
                   args=["-Djava.security.auth.login.config=" + jaas], any_of=True)


def test_refused_missing_jaas_file(binary):
    missing = os.path.join(work_dir(), "no-such.jaas")
    expect_refused(binary, [missing], ["authProvider.1=" + SASL_PROVIDER],
                   args=["-Djava.security.auth.login.config=" + missing])

