// The Java reference for tests/unit/test_security_tls.c, run once per test run as a single-file
// program when `java` is installed:
//   java JavaReference.java DIR CERT.pem...
// 1. DIR/java-names.txt: one line per certificate, "<CERT>\t<hex of the UTF-8 bytes of
//    getSubjectX500Principal().getName()>", the RFC 2253 string ZooKeeper's
//    X509AuthenticationProvider takes as a client's x509 id (hex, so that a NUL, a carriage
//    return or a replacement character reaches the test unchanged).
// 2. DIR/java-trust.p12 (password "trustsecret"): DIR/ca.pem as a trusted certificate entry,
//    and DIR/java-server.p12 (password "p12secret"): the key and chain of DIR/server.p12 stored
//    again, i.e. the stores keytool makes (same KeyStore code and defaults), which zabkeeper must
//    read as ZooKeeper users have them.
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;

public class JavaReference {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        FileOutputStream names = new FileOutputStream(dir.resolve("java-names.txt").toFile());
        try (PrintStream out = new PrintStream(names, false, StandardCharsets.UTF_8)) {
            for (int i = 1; i < args.length; i++) {
                try (FileInputStream in = new FileInputStream(dir.resolve(args[i]).toFile())) {
                    X509Certificate c = (X509Certificate) cf.generateCertificate(in);
                    String rfc2253 = c.getSubjectX500Principal().getName();
                    byte[] name = rfc2253.getBytes(StandardCharsets.UTF_8);
                    StringBuilder hex = new StringBuilder();
                    for (byte b : name) {
                        hex.append(String.format("%02x", b & 0xff));
                    }
                    out.print(args[i] + "\t" + hex + "\n");
                }
            }
        }

        char[] trustPw = "trustsecret".toCharArray();
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, trustPw);
        try (FileInputStream in = new FileInputStream(dir.resolve("ca.pem").toFile())) {
            trust.setCertificateEntry("ca", cf.generateCertificate(in));
        }
        try (FileOutputStream o = new FileOutputStream(dir.resolve("java-trust.p12").toFile())) {
            trust.store(o, trustPw);
        }

        char[] keyPw = "p12secret".toCharArray();
        KeyStore src = KeyStore.getInstance("PKCS12");
        try (FileInputStream in = new FileInputStream(dir.resolve("server.p12").toFile())) {
            src.load(in, keyPw);
        }
        KeyStore dst = KeyStore.getInstance("PKCS12");
        dst.load(null, keyPw);
        String alias = src.aliases().nextElement();
        Certificate[] chain = src.getCertificateChain(alias);
        dst.setKeyEntry("server", src.getKey(alias, keyPw), keyPw, chain);
        try (FileOutputStream o = new FileOutputStream(dir.resolve("java-server.p12").toFile())) {
            dst.store(o, keyPw);
        }
    }
}
