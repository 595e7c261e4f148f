"""Certificates for the security tests, made at test time with the `openssl` command (no
certificate is checked in).

Pki(dir).make() writes, under dir (once; a later make() on the same dir reuses the files):
  ca.pem / ca.key                     the test CA (the trust store: ssl.trustStore.location)
  server<i>.pem / .key / .keystore.pem   member i (1..members): CN=server<i>, SAN IP:127.0.0.1 and
                                      DNS:localhost, serverAuth+clientAuth (quorum TLS uses the
                                      same certificate both ways); .keystore.pem = key + cert,
                                      the PEM key store ZooKeeper 3.8 takes (ssl.keyStore.type=PEM)
  server1.p12                         PKCS12 key store of member 1, password P12_PASSWORD
  client1.*, client2.*                CN=client1 / CN=client2 client certificates (+ keystore.pem)
  client3.*                           C=DE, O="zabkeeper tests, QA", CN=client3: a subject of
                                      several RDNs, one with a comma (RFC 2253 order and escaping)
  admin.*                             CN=admin (X509AuthenticationProvider.superUser)
  client1.p12                         PKCS12 key store of client1, password P12_PASSWORD
  rogue-ca.pem / .key                 a second CA nobody trusts
  rogue-client.*                      CN=client1 signed by the rogue CA (the right name, the
                                      wrong issuer)
  rogue-server.*                      SAN 127.0.0.1 signed by the rogue CA (for the peer port)
  expired.*                           CN=client1 signed by the test CA, valid only in 2020
                                      (`openssl ca -startdate/-enddate`)
Keys are RSA 2048 in PKCS#8 ("BEGIN PRIVATE KEY"), the form ZooKeeper's PemReader reads.
"""
import os
import subprocess
import shutil
import tempfile

P12_PASSWORD = "p12secret"

CLIENT_EXT = ("basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=clientAuth\n")
SERVER_EXT = ("basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=serverAuth,clientAuth\n"
              "subjectAltName=IP:127.0.0.1,DNS:localhost\n")

CA_CNF = """[ ca ]
default_ca = test_ca
[ test_ca ]
dir = %(dir)s
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
"""


def openssl(*args, cwd=None):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


class Pki:
    def __init__(self, dir_, members=3):
        self.dir = os.path.abspath(dir_)
        self.members = members

    def path(self, name):
        return os.path.join(self.dir, name)

    # the names tests use
    def cert(self, who):
        return self.path(who + ".pem")

    def key(self, who):
        return self.path(who + ".key")

    def keystore(self, who):
        """PEM key store: private key + certificate in one file."""
        return self.path(who + ".keystore.pem")

    def p12(self, who):
        return self.path(who + ".p12")

    @property
    def ca(self):
        return self.path("ca.pem")

    @property
    def rogue_ca(self):
        return self.path("rogue-ca.pem")

    def make(self):
        done = self.path("complete")
        if os.path.exists(done):
            return self
        os.makedirs(self.dir, exist_ok=True)
        self._ca("ca", "/O=zabkeeper tests/CN=zabkeeper test CA")
        self._ca("rogue-ca", "/O=rogue/CN=rogue CA")
        for i in range(1, self.members + 1):
            self._leaf("server%d" % i, "/CN=server%d" % i, "ca", SERVER_EXT)
        self._leaf("client1", "/CN=client1", "ca", CLIENT_EXT)
        self._leaf("client2", "/CN=client2", "ca", CLIENT_EXT)
        self._leaf("client3", "/C=DE/O=zabkeeper tests, QA/CN=client3", "ca", CLIENT_EXT)
        self._leaf("admin", "/CN=admin", "ca", CLIENT_EXT)
        self._leaf("rogue-client", "/CN=client1", "rogue-ca", CLIENT_EXT)
        self._leaf("rogue-server", "/CN=server1", "rogue-ca", SERVER_EXT)
        self._expired("expired", "/CN=client1")
        for who in ("server1", "client1"):
            openssl("pkcs12", "-export", "-in", self.cert(who), "-inkey", self.key(who),
                    "-certfile", self.ca, "-name", who, "-passout", "pass:" + P12_PASSWORD,
                    "-out", self.p12(who))
        with open(done, "w") as f:
            f.write("ok\n")
        return self

    def _key(self, name):
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", self.key(name))
        os.chmod(self.key(name), 0o600)

    def _ca(self, name, subj):
        self._key(name)
        openssl("req", "-x509", "-new", "-key", self.key(name), "-subj", subj, "-days", "3650",
                "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", self.cert(name))

    def _csr(self, name, subj):
        self._key(name)
        csr = self.path(name + ".csr")
        openssl("req", "-new", "-key", self.key(name), "-subj", subj, "-out", csr)
        return csr

    def _ext(self, name, ext):
        p = self.path(name + ".ext")
        with open(p, "w") as f:
            f.write(ext)
        return p

    def _keystore(self, name):
        with open(self.keystore(name), "w") as out:
            for part in (self.key(name), self.cert(name)):
                with open(part) as f:
                    out.write(f.read())
        os.chmod(self.keystore(name), 0o600)

    def _leaf(self, name, subj, ca, ext):
        csr = self._csr(name, subj)
        openssl("x509", "-req", "-in", csr, "-CA", self.cert(ca), "-CAkey", self.key(ca),
                "-CAcreateserial", "-CAserial", self.path(ca + ".srl"), "-days", "825",
                "-sha256", "-extfile", self._ext(name, ext), "-out", self.cert(name))
        self._keystore(name)

    def _expired(self, name, subj):
        """Signed by the test CA with a validity period entirely in the past."""
        csr = self._csr(name, subj)
        cadir = tempfile.mkdtemp(prefix="ca-", dir=self.dir)
        open(os.path.join(cadir, "index.txt"), "w").close()
        with open(os.path.join(cadir, "serial"), "w") as f:
            f.write("1000\n")
        cnf = os.path.join(cadir, "ca.cnf")
        with open(cnf, "w") as f:
            f.write(CA_CNF % {"dir": cadir})
        openssl("ca", "-batch", "-config", cnf, "-cert", self.ca, "-keyfile", self.key("ca"),
                "-in", csr, "-out", self.cert(name), "-notext",
                "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
                "-extfile", self._ext(name, CLIENT_EXT))
        shutil.rmtree(cadir)
        self._keystore(name)

    def subject(self, who):
        """The subject of a certificate as `openssl x509 -subject -nameopt RFC2253` prints it."""
        out = openssl("x509", "-in", self.cert(who), "-noout", "-subject", "-nameopt", "RFC2253")
        return out.strip().split("=", 1)[1]


if __name__ == "__main__":
    # pki.py [--fresh] [DIR]: make the certificates in DIR (a new temporary directory if none);
    # --fresh removes DIR first instead of reusing what a previous run left there
    import sys
    args = sys.argv[1:]
    fresh = "--fresh" in args
    args = [a for a in args if a != "--fresh"]
    d = args[0] if args else tempfile.mkdtemp(prefix="pki-")
    if fresh:
        shutil.rmtree(d, ignore_errors=True)
    Pki(d).make()
    print("certificates in %s" % d)
