/* ZooKeeper client protocol constants and shared records (Stat, ACL, WatcherEvent), as in
 * zookeeper.jute / ZooDefs / KeeperException of ZooKeeper 3.8. */
#ifndef ZK_PROTO_H
#define ZK_PROTO_H

#include <stdint.h>

#include "proto/jute.h"

#define ZK_MAX_BUFFER_DEFAULT 1048575 /* jute.maxbuffer */
#define ZK_PASSWD_LEN 16

enum zk_op {
    ZOP_NOTIFICATION = 0,
    ZOP_CREATE = 1,
    ZOP_DELETE = 2,
    ZOP_EXISTS = 3,
    ZOP_GETDATA = 4,
    ZOP_SETDATA = 5,
    ZOP_GETACL = 6,
    ZOP_SETACL = 7,
    ZOP_GETCHILDREN = 8,
    ZOP_SYNC = 9,
    ZOP_PING = 11,
    ZOP_GETCHILDREN2 = 12,
    ZOP_CHECK = 13,
    ZOP_MULTI = 14,
    ZOP_CREATE2 = 15,
    ZOP_RECONFIG = 16,
    ZOP_CHECKWATCHES = 17,
    ZOP_REMOVEWATCHES = 18,
    ZOP_CREATECONTAINER = 19,
    ZOP_DELETECONTAINER = 20,
    ZOP_CREATETTL = 21,
    ZOP_MULTIREAD = 22,
    ZOP_AUTH = 100,
    ZOP_SETWATCHES = 101,
    ZOP_SASL = 102,
    ZOP_GETEPHEMERALS = 103,
    ZOP_GETALLCHILDRENNUMBER = 104,
    ZOP_SETWATCHES2 = 105,
    ZOP_ADDWATCH = 106,
    ZOP_WHOAMI = 107,
    ZOP_SETCONFIG = -16, /* the leader's txn of a reconfig: /zookeeper/config's new text (never
                          * from a client; ZooKeeper logs it as reconfig + SetDataTxn) */
    ZOP_CREATESESSION = -10,
    ZOP_CLOSESESSION = -11,
    ZOP_ERROR = -1,
};

enum zk_err {
    ZE_OK = 0,
    ZE_SYSTEMERROR = -1,
    ZE_RUNTIMEINCONSISTENCY = -2,
    ZE_DATAINCONSISTENCY = -3,
    ZE_CONNECTIONLOSS = -4,
    ZE_MARSHALLINGERROR = -5,
    ZE_UNIMPLEMENTED = -6,
    ZE_OPERATIONTIMEOUT = -7,
    ZE_BADARGUMENTS = -8,
    ZE_NEWCONFIGNOQUORUM = -13, /* reconfig: the new configuration has no synced quorum */
    ZE_RECONFIGINPROGRESS = -14, /* reconfig: another one is not committed yet */
    ZE_APIERROR = -100,
    ZE_NONODE = -101,
    ZE_NOAUTH = -102,
    ZE_BADVERSION = -103,
    ZE_NOCHILDRENFOREPHEMERALS = -108,
    ZE_NODEEXISTS = -110,
    ZE_NOTEMPTY = -111,
    ZE_SESSIONEXPIRED = -112,
    ZE_INVALIDCALLBACK = -113,
    ZE_INVALIDACL = -114,
    ZE_AUTHFAILED = -115,
    ZE_SESSIONMOVED = -118,
    ZE_NOTREADONLY = -119,
    ZE_NOWATCHER = -121,
    ZE_RECONFIGDISABLED = -123,
    ZE_SESSIONCLOSEDREQUIRESASLAUTH = -124, /* enforce.auth: the session is not authenticated */
    ZE_QUOTAEXCEEDED = -125, /* zookeeper.enforceQuota: a hard quota would be exceeded */
};

enum zk_event_type {
    ZEV_NONE = -1,
    ZEV_CREATED = 1,
    ZEV_DELETED = 2,
    ZEV_DATA_CHANGED = 3,
    ZEV_CHILDREN_CHANGED = 4,
};

enum zk_state { ZST_SYNC_CONNECTED = 3 };

/* Special xids. */
enum { ZXID_NOTIFICATION = -1, ZXID_PING = -2, ZXID_AUTH = -4, ZXID_SETWATCHES = -8 };

enum zk_perm { ZPERM_READ = 1, ZPERM_WRITE = 2, ZPERM_CREATE = 4, ZPERM_DELETE = 8,
               ZPERM_ADMIN = 16, ZPERM_ALL = 31 };

/* Create flags (CreateMode). */
enum zk_create_mode {
    ZCM_PERSISTENT = 0,
    ZCM_EPHEMERAL = 1,
    ZCM_PERSISTENT_SEQUENTIAL = 2,
    ZCM_EPHEMERAL_SEQUENTIAL = 3,
    ZCM_CONTAINER = 4,
    ZCM_PERSISTENT_WITH_TTL = 5,
    ZCM_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
};

#define ZK_EPHEMERAL_CONTAINER ((int64_t)INT64_MIN) /* 0x8000000000000000 */
#define ZK_EPHEMERAL_TTL_MASK ((int64_t)0xFF00000000000000ULL)

/* Client-visible Stat, 68 bytes on the wire. */
struct zk_stat {
    int64_t czxid;
    int64_t mzxid;
    int64_t ctime;
    int64_t mtime;
    int32_t version;
    int32_t cversion;
    int32_t aversion;
    int64_t ephemeral_owner;
    int32_t data_length;
    int32_t num_children;
    int64_t pzxid;
};

void zk_stat_write(struct jute_writer *jw, const struct zk_stat *st);
void zk_stat_read(struct jute_reader *jr, struct zk_stat *st);

/* Write a reply header (xid, zxid, err) into jw. */
void zk_reply_header_write(struct jute_writer *jw, int32_t xid, int64_t zxid, int32_t err);

const char *zk_err_name(int32_t err);
const char *zk_op_name(int32_t op);
/* True for opcodes that change state and therefore go through the log. */
int zk_op_is_write(int32_t op);

#endif
