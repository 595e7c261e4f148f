"""Client TLS as Apache ZooKeeper 3.8 offers it, run against ZooKeeper (the reference) and
zabkeeper: secureClientPort beside the plaintext clientPort, PEM (and PKCS12) key stores, a PEM
trust store, ssl.clientAuth=need|want|none.

Servers (SEC_PORT = B; clientPort / secureClientPort):
  need  B / B+1   PEM key store, clientAuth=need, authProvider.x509 configured
  none  B+2 / B+3 PEM key store, clientAuth=none
  want  B+4 / B+5 PKCS12 key store (with its password), clientAuth=want, no authProvider line
                  (ZooKeeper registers X509AuthenticationProvider itself for the TLS port)

Clients: kazoo (use_ssl, ca, certfile, keyfile, verify_certs), raw jute over Python's ssl
module (refusals, whoAmI), the Java client (ClientCnxnSocketNetty, -Dzookeeper.ssl.*) and zkCli
(CLIENT_JVMFLAGS). A refusal is: the TLS handshake fails, or the connection is closed before any
ConnectResponse, and mntr's zk_global_sessions does not move; the plaintext clientPort keeps
working meanwhile.
"""
import queue
import socket
import ssl

import pytest
from kazoo.exceptions import LockTimeout

from sectools import (X509_PROVIDER, T, assert_refused, attempt, base_port, java_tls_props,
                      raw_whoami, run_java_client, ssl_context, start_server, tls_config,
                      whoami, zkcli)

B = base_port(26700)


@pytest.fixture(scope="module")
def need(pki):
    s = start_server("need", B, tls_config(pki, B + 1, "need")
                     + ["authProvider.x509=" + X509_PROVIDER], secure_port=B + 1)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def none_srv(pki):
    s = start_server("none", B + 2, tls_config(pki, B + 3, "none"), secure_port=B + 3)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def want(pki):
    s = start_server("want", B + 4, tls_config(pki, B + 5, "want", store="pkcs12"),
                     secure_port=B + 5)
    yield s
    s.stop()


def plain_still_works(server, clients, tag):
    zk = clients(server.hosts)
    zk.ensure_path("/plain")
    zk.create("/plain/" + tag, b"plain")
    assert zk.get("/plain/" + tag)[0] == b"plain"
    assert ("ip", "127.0.0.1") in whoami(zk)
    assert not any(s == "x509" for s, _ in whoami(zk))


# ---------------------------------------------------------------- kazoo over TLS

def test_kazoo_create_get_watch(need, pki, clients):
    a = clients(need.secure_hosts, pki, cert="client1")
    b = clients(need.secure_hosts, pki, cert="client2")
    a.ensure_path("/tls")
    a.create("/tls/w", b"one")
    assert b.get("/tls/w")[0] == b"one"
    assert sorted(b.get_children("/tls")) == ["w"]
    q = queue.Queue()
    data, _ = a.get("/tls/w", watch=q.put)
    assert data == b"one"
    b.set("/tls/w", b"two")
    ev = q.get(timeout=T)
    assert (ev.type, ev.path) == ("CHANGED", "/tls/w")
    assert a.get("/tls/w")[0] == b"two"
    # the identities of a TLS client with a certificate: its address and its subject
    assert whoami(a) == {("ip", "127.0.0.1"), ("x509", "CN=client1")}


def test_kazoo_lock(need, pki, clients):
    a = clients(need.secure_hosts, pki, cert="client1")
    b = clients(need.secure_hosts, pki, cert="client2")
    la, lb = a.Lock("/tls/lock", "a"), b.Lock("/tls/lock", "b")
    assert la.acquire(timeout=T)
    with pytest.raises(LockTimeout):
        lb.acquire(timeout=0.5)
    assert sorted(la.contenders()) == ["a"]
    la.release()
    assert lb.acquire(timeout=T)
    assert lb.contenders() == ["b"]
    lb.release()


def test_server_certificate_and_verify_certs(need, pki, clients):
    """The TLS port presents the member's certificate (CN=server1, SAN 127.0.0.1 and
    localhost, signed by the test CA): verified with hostname checks on; a client trusting only
    the rogue CA cannot verify it; kazoo with verify_certs=False connects without a CA."""
    ctx = ssl_context(pki, cert="client1")
    ctx.check_hostname = True
    for name in ("127.0.0.1", "localhost"):
        with socket.create_connection(("127.0.0.1", need.secure_port), T) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                cert = s.getpeercert()
                assert dict(x[0] for x in cert["subject"])["commonName"] == "server1"
                assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection(("127.0.0.1", need.secure_port), T) as raw:
            ssl_context(pki, cert="client1", ca="rogue-ca").wrap_socket(raw)
    zk = clients(need.secure_hosts, pki, cert="client1", ca=None, verify=False)
    assert zk.exists("/") is not None


# ---------------------------------------------------------------- Apache ZooKeeper's clients

def test_java_client_pem(need, pki):
    rc, out = run_java_client(need.secure_hosts, "/java-pem",
                              java_tls_props(pki, keystore="client1"))
    assert rc == 0, out
    assert "DATA java" in out
    assert {"WHOAMI x509 CN=client1", "WHOAMI ip 127.0.0.1"} <= set(out)


def test_java_client_pkcs12(need, pki):
    rc, out = run_java_client(need.secure_hosts, "/java-p12",
                              java_tls_props(pki, keystore="client1", store="pkcs12"))
    assert rc == 0, out
    assert "DATA java" in out and "WHOAMI x509 CN=client1" in out


def test_zkcli(need, pki):
    props = java_tls_props(pki, keystore="client2")
    rc, out = zkcli(need.secure_hosts, props, "create", "/zkcli", "from-zkcli")
    assert rc == 0 and "Created /zkcli" in out, out
    rc, out = zkcli(need.secure_hosts, props, "get", "/zkcli")
    assert rc == 0 and "from-zkcli" in out.splitlines(), out
    rc, out = zkcli(need.secure_hosts, props, "whoami")
    assert rc == 0 and "x509: CN=client2" in out.splitlines(), out


# ---------------------------------------------------------------- refusals (clientAuth=need)

def test_plaintext_client_on_tls_port_refused(need, clients):
    assert_refused(need, need.secure_port, None, "plaintext ConnectRequest on the TLS port")
    plain_still_works(need, clients, "after-plaintext")


def test_rogue_ca_certificate_refused(need, pki, clients):
    assert_refused(need, need.secure_port, ssl_context(pki, cert="rogue-client"),
                   "CN=client1 from the rogue CA")
    plain_still_works(need, clients, "after-rogue")


def test_expired_certificate_refused(need, pki, clients):
    assert_refused(need, need.secure_port, ssl_context(pki, cert="expired"),
                   "expired CN=client1")
    plain_still_works(need, clients, "after-expired")


def test_no_certificate_refused_when_needed(need, pki, clients):
    assert_refused(need, need.secure_port, ssl_context(pki), "no client certificate")
    plain_still_works(need, clients, "after-nocert")


def test_java_client_without_certificate_refused(need, pki):
    rc, out = run_java_client(need.secure_hosts, "/java-nocert", java_tls_props(pki), wait=4)
    assert rc == 3 and "NOT CONNECTED" in out, out


# ---------------------------------------------------------------- clientAuth=none

def test_clientauth_none_without_certificate(none_srv, pki, clients):
    zk = clients(none_srv.secure_hosts, pki)  # ca only, no certificate
    zk.create("/none", b"no cert")
    assert zk.get("/none")[0] == b"no cert"
    assert whoami(zk) == {("ip", "127.0.0.1")}


def test_clientauth_none_ignores_certificates(none_srv, pki):
    """A certificate is not asked for, so none is checked and none gives an identity: the
    client1, rogue-CA and expired ones all get a session with the ip identity only."""
    for cert in ("client1", "rogue-client", "expired"):
        outcome, conn = attempt(none_srv.secure_port, ssl_context(pki, cert=cert))
        assert outcome == "session", "%s: %s" % (cert, conn)
        try:
            assert raw_whoami(conn) == {("ip", "127.0.0.1")}, cert
        finally:
            conn.close()


def test_clientauth_none_refuses_plaintext(none_srv, clients):
    assert_refused(none_srv, none_srv.secure_port, None, "plaintext on the TLS port (none)")
    plain_still_works(none_srv, clients, "none")


# ---------------------------------------------------------------- clientAuth=want, PKCS12 store

def test_want_pkcs12_server(want, pki, clients):
    """The PKCS12 key store serves the member's certificate; without a client certificate a
    session has the ip identity only; with client1's it has x509 CN=client1 although zoo.cfg has
    no authProvider.x509 line; an untrusted certificate is still refused."""
    with socket.create_connection(("127.0.0.1", want.secure_port), T) as raw:
        with ssl_context(pki).wrap_socket(raw) as s:
            assert dict(x[0] for x in s.getpeercert()["subject"])["commonName"] == "server1"
    anon = clients(want.secure_hosts, pki)
    assert whoami(anon) == {("ip", "127.0.0.1")}
    anon.create("/want", b"w")
    c1 = clients(want.secure_hosts, pki, cert="client1")
    assert whoami(c1) == {("ip", "127.0.0.1"), ("x509", "CN=client1")}
    assert c1.get("/want")[0] == b"w"
    assert_refused(want, want.secure_port, ssl_context(pki, cert="rogue-client"),
                   "rogue CA under clientAuth=want")
    assert_refused(want, want.secure_port, ssl_context(pki, cert="expired"),
                   "expired under clientAuth=want")
    plain_still_works(want, clients, "want")
