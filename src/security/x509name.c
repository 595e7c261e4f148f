/* A certificate subject as Java's X500Principal.getName() (RFC 2253) prints it, so `x509:` ACL
 * ids written for ZooKeeper match here byte for byte: RDNs last to first, the keywords Java
 * knows for RFC 2253 (CN C L ST O OU STREET DC UID), any other attribute as its dotted OID and
 * `#` with the hex of its DER value, Java's escapes. */
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "security/tls.h"

struct out {
    char *buf;
    size_t size, len;
    bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n >= o->size) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static const char *rfc2253_keyword(int nid)
{
    switch (nid) {
    case NID_commonName: return "CN";
    case NID_countryName: return "C";
    case NID_localityName: return "L";
    case NID_stateOrProvinceName: return "ST";
    case NID_organizationName: return "O";
    case NID_organizationalUnitName: return "OU";
    case NID_streetAddress: return "STREET";
    case NID_domainComponent: return "DC";
    case NID_userId: return "UID";
    default: return NULL;
    }
}

/* Java's AVA.toRFC2253String: these are escaped wherever they appear; so is every space or
 * carriage return of the leading and of the trailing run. */
static void put_escaped(struct out *o, const unsigned char *v, int len)
{
    static const char escapees[] = ",=+<>#;\"\\";
    int lead = 0, trail = len - 1;
    while (lead < len && (v[lead] == ' ' || v[lead] == '\r'))
        lead++;
    while (trail >= 0 && (v[trail] == ' ' || v[trail] == '\r'))
        trail--;
    for (int i = 0; i < len; i++) {
        char c = (char)v[i];
        if (c == '\0') {
            puts_(o, "\\00");
            continue;
        }
        if (i < lead || i > trail || strchr(escapees, c))
            put(o, "\\", 1);
        put(o, &c, 1);
    }
}

static void put_hex_der(struct out *o, const ASN1_STRING *value)
{
    ASN1_TYPE *t = ASN1_TYPE_new();
    unsigned char *der = NULL;
    int len = t && ASN1_TYPE_set1(t, ASN1_STRING_type(value), value) == 1 ? i2d_ASN1_TYPE(t, &der)
                                                                          : -1;
    ASN1_TYPE_free(t);
    if (len < 0) {
        o->overflow = true;
        return;
    }
    put(o, "#", 1);
    for (int i = 0; i < len; i++) {
        char hex[3];
        snprintf(hex, sizeof hex, "%02x", der[i]);
        put(o, hex, 2);
    }
    OPENSSL_free(der);
}

static void put_entry(struct out *o, const X509_NAME_ENTRY *e)
{
    const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
    const ASN1_STRING *value = X509_NAME_ENTRY_get_data(e);
    const char *keyword = rfc2253_keyword(OBJ_obj2nid(obj));
    if (!keyword) {
        char oid[128];
        if (OBJ_obj2txt(oid, sizeof oid, obj, 1) <= 0) {
            o->overflow = true;
            return;
        }
        puts_(o, oid);
        put(o, "=", 1);
        put_hex_der(o, value);
        return;
    }
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, value);
    if (len < 0) {
        o->overflow = true;
        return;
    }
    puts_(o, keyword);
    put(o, "=", 1);
    put_escaped(o, utf8, len);
    OPENSSL_free(utf8);
}

static int format_name(const X509_NAME *name, char *buf, size_t size)
{
    struct out o = {buf, size, 0, false};
    buf[0] = '\0';
    /* RDNs last to first; the entries of one multi-valued RDN (they share a set number) in
     * their encoded order, joined by '+', as Java's RDN.toRFC2253String */
    for (int end = X509_NAME_entry_count(name) - 1; end >= 0;) {
        int set = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, end)), start = end;
        while (start > 0 && X509_NAME_ENTRY_set(X509_NAME_get_entry(name, start - 1)) == set)
            start--;
        if (o.len)
            put(&o, ",", 1);
        for (int i = start; i <= end; i++) {
            if (i > start)
                put(&o, "+", 1);
            put_entry(&o, X509_NAME_get_entry(name, i));
        }
        end = start - 1;
    }
    return o.overflow ? -1 : 0;
}

int tls_peer_subject(SSL *ssl, char *out, size_t n)
{
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return -1;
    int rc = format_name(X509_get_subject_name(cert), out, n);
    X509_free(cert);
    return rc;
}
