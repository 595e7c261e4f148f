"""x509 identities and ACLs as Apache ZooKeeper 3.8 has them, run against ZooKeeper (the reference)
and zabkeeper.

One server (SEC_PORT = B): clientPort B, secureClientPort B+1 with clientAuth=need,
authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider and
X509AuthenticationProvider.superUser=CN=admin (ZooKeeper turns the zoo.cfg key into the system
property zookeeper.X509AuthenticationProvider.superUser).

What ZooKeeper does, and so what is checked:
  - a TLS client with a certificate has the identity x509:<subject DN in RFC 2253 form> (Java's
    X500Principal.getName(): last RDN first, "," between RDNs, "\\," inside a value), beside
    ip:127.0.0.1; the superUser's certificate adds super (whoAmI shows its user as "");
  - an ACL x509:<DN> grants its permissions to that subject only: others get NoAuth, also
    plaintext clients; the super user passes every ACL;
  - an x509 ACL whose id is no DN is InvalidACL;
  - addauth x509 on the plaintext port gets AuthFailed and the connection is closed.
"""
import pytest
from kazoo.exceptions import InvalidACLError, NoAuthError
from kazoo.security import ACL, Id, Permissions

import zkwire
from sectools import (T, X509_PROVIDER, base_port, java_tls_props, run_java_client,
                      start_server, tls_config, whoami)

B = base_port(26710)
CLIENT3_DN = "CN=client3,O=zabkeeper tests\\, QA,C=DE"


@pytest.fixture(scope="module")
def server(pki):
    s = start_server("x509", B, tls_config(pki, B + 1, "need")
                     + ["authProvider.x509=" + X509_PROVIDER,
                        "X509AuthenticationProvider.superUser=CN=admin"], secure_port=B + 1)
    yield s
    s.stop()


@pytest.fixture
def tls(server, pki, clients):
    """tls(cert): a started kazoo client on the TLS port presenting cert."""
    def make(cert):
        return clients(server.secure_hosts, pki, cert=cert)
    return make


def x509_acl(dn, perms=Permissions.ALL):
    return ACL(perms, Id("x509", dn))


def test_whoami_is_the_rfc2253_subject(tls, pki):
    assert whoami(tls("client1")) == {("ip", "127.0.0.1"), ("x509", "CN=client1")}
    assert whoami(tls("client2")) == {("ip", "127.0.0.1"), ("x509", "CN=client2")}
    # several RDNs: reversed order, a comma inside a value escaped (as openssl -nameopt RFC2253)
    assert pki.subject("client3") == CLIENT3_DN
    assert whoami(tls("client3")) == {("ip", "127.0.0.1"), ("x509", CLIENT3_DN)}


def test_acl_for_client1_only(server, tls, clients):
    c1, c2 = tls("client1"), tls("client2")
    c1.ensure_path("/x509")
    c1.create("/x509/c1", b"for client1", acl=[x509_acl("CN=client1")])
    acl, _ = c1.get_acls("/x509/c1")
    assert acl == [x509_acl("CN=client1")]
    assert c1.get("/x509/c1")[0] == b"for client1"
    c1.set("/x509/c1", b"changed")
    c1.create("/x509/c1/child", b"")
    for what, op in (("get", lambda z: z.get("/x509/c1")),
                     ("set", lambda z: z.set("/x509/c1", b"no")),
                     ("create", lambda z: z.create("/x509/c1/other", b"")),
                     ("delete", lambda z: z.delete("/x509/c1/child")),
                     ("getChildren", lambda z: z.get_children("/x509/c1"))):
        with pytest.raises(NoAuthError):
            op(c2)
        print("client2 %s: NoAuth" % what)
    plain = clients(server.hosts)
    with pytest.raises(NoAuthError):
        plain.get("/x509/c1")
    assert c1.get("/x509/c1")[0] == b"changed"


def test_acl_for_a_multi_rdn_subject(tls):
    c1, c3 = tls("client1"), tls("client3")
    c1.ensure_path("/x509")
    c1.create("/x509/c3", b"for client3", acl=[x509_acl(CLIENT3_DN)])
    assert c3.get("/x509/c3")[0] == b"for client3"
    with pytest.raises(NoAuthError):
        c1.get("/x509/c3")


def test_read_only_acl(tls):
    c1, c2 = tls("client1"), tls("client2")
    c1.ensure_path("/x509")
    c1.create("/x509/ro", b"read me", acl=[x509_acl("CN=client1"),
                                            x509_acl("CN=client2", Permissions.READ)])
    assert c2.get("/x509/ro")[0] == b"read me"
    with pytest.raises(NoAuthError):
        c2.set("/x509/ro", b"no")
    c1.set("/x509/ro", b"yes")


def test_super_user(tls):
    c1, admin = tls("client1"), tls("admin")
    assert whoami(admin) == {("ip", "127.0.0.1"), ("x509", "CN=admin"), ("super", "")}
    c1.ensure_path("/x509")
    c1.create("/x509/su", b"c1 only", acl=[x509_acl("CN=client1")])
    assert admin.get("/x509/su")[0] == b"c1 only"
    admin.set("/x509/su", b"by admin")
    assert admin.get_acls("/x509/su")[0] == [x509_acl("CN=client1")]
    assert c1.get("/x509/su")[0] == b"by admin"
    admin.delete("/x509/su")
    assert c1.exists("/x509/su") is None


def test_invalid_x509_acl(tls):
    c1 = tls("client1")
    with pytest.raises(InvalidACLError):
        c1.create("/x509-invalid", b"", acl=[x509_acl("no-equals-sign")])
    assert c1.exists("/x509-invalid") is None


def test_addauth_x509_on_plaintext_port(server):
    conn = zkwire.Conn(server.port)
    try:
        conn.handshake()
        assert conn.auth("x509", b"CN=client1") == -115  # AuthFailed
        assert conn.wait_closed(T), "the connection stayed open after AuthFailed"
    finally:
        conn.close()


def test_java_client_creates_x509_acl(server, pki, tls):
    rc, out = run_java_client(server.secure_hosts, "/x509-java",
                              java_tls_props(pki, keystore="client1"), acl="x509:CN=client1")
    assert rc == 0 and "DATA java" in out, out
    assert tls("client1").get("/x509-java")[0] == b"java"
    with pytest.raises(NoAuthError):
        tls("client2").get("/x509-java")
