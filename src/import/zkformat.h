/* Primitives of Apache ZooKeeper's on-disk formats (FileSnap, FileTxnLog), read with the
 * semantics of ZooKeeper's Java code, because the import must end a damaged file exactly where
 * ZooKeeper ends it:
 *   - jute integers are big-endian; a buffer/string is an int32 length (-1 = null) then bytes;
 *     a vector is an int32 count (-1 = null, any other negative count = empty);
 *   - running out of bytes is an EOF (java.io.EOFException), which ZooKeeper treats as the end
 *     of a log file; a length outside [0, maxBuffer + extraMaxBuffer] is a hard error
 *     (BinaryInputArchive.checkLength's IOException);
 *   - checksums are java.util.zip.Adler32 (files) and CRC32 (ZooKeeper's tree digest);
 *   - a session's password is not stored: ZooKeeper derives it from the session id with
 *     java.util.Random (ZooKeeperServer.generatePasswd). */
#ifndef ZK_IMPORT_ZKFORMAT_H
#define ZK_IMPORT_ZKFORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZKF_SNAP_MAGIC 0x5a4b534e /* "ZKSN" */
#define ZKF_LOG_MAGIC 0x5a4b4c47  /* "ZKLG" */
#define ZKF_FILE_HEADER_LEN 16    /* int magic, int version, long dbid */
#define ZKF_PASSWD_LEN 16

enum zkin_status { ZKIN_OK = 0, ZKIN_EOF = 1, ZKIN_BAD = 2 };

/* Bounds-checked reader; the first failure sticks (check `status` after a whole record). */
struct zkin {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int32_t max_len; /* largest buffer/string length accepted */
    int status;      /* enum zkin_status */
};

/* A buffer or string inside the reader's bytes; len -1 is Java's null. */
struct zkbuf {
    const uint8_t *ptr;
    int32_t len;
};

void zkin_init(struct zkin *in, const void *p, size_t len, int32_t max_len);
int32_t zkin_int(struct zkin *in);
int64_t zkin_long(struct zkin *in);
uint8_t zkin_byte(struct zkin *in);
bool zkin_bool(struct zkin *in);     /* DataInput.readBoolean: any non-zero byte is true */
struct zkbuf zkin_buffer(struct zkin *in); /* readBuffer / readString */
/* startVector: returns the count; -1 means a null vector, 0 also for other negative counts. */
int32_t zkin_vector(struct zkin *in);
/* Skip one vector<ACL> and return its raw bytes (count included) as *out; a null vector gives
 * out->len == -1. */
void zkin_acl_vector(struct zkin *in, struct zkbuf *out);
static inline bool zkin_ok(const struct zkin *in) { return in->status == ZKIN_OK; }

/* BinaryInputArchive's bound for a ZooKeeper that ran with jute.maxbuffer = max_buffer and the
 * default zookeeper.jute.maxbuffer.extrasize (= maxBuffer, at least 1024). */
int32_t zkf_length_limit(int32_t max_buffer);

/* java.util.zip.Adler32 / CRC32: start from 1 / 0 and feed bytes in order. */
uint32_t zkf_adler32(uint32_t adler, const uint8_t *p, size_t n);
uint32_t zkf_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* ZooKeeperServer.generatePasswd: new java.util.Random(id ^ 0xB3415C00L).nextBytes(16 bytes). */
void zkf_session_passwd(int64_t session_id, uint8_t out[ZKF_PASSWD_LEN]);

/* Util.getZxidFromName: "<prefix>.<hex>[.<anything>]" -> zxid, or -1 when the name does not
 * match (or the hex does not fit a Java long). */
int64_t zkf_zxid_from_name(const char *name, const char *prefix);

#endif
