/* Shared ZooKeeper records and names (see zkproto.h). */
#include "proto/zkproto.h"

void zk_stat_write(struct jute_writer *jw, const struct zk_stat *st)
{
    jw_long(jw, st->czxid);
    jw_long(jw, st->mzxid);
    jw_long(jw, st->ctime);
    jw_long(jw, st->mtime);
    jw_int(jw, st->version);
    jw_int(jw, st->cversion);
    jw_int(jw, st->aversion);
    jw_long(jw, st->ephemeral_owner);
    jw_int(jw, st->data_length);
    jw_int(jw, st->num_children);
    jw_long(jw, st->pzxid);
}

void zk_stat_read(struct jute_reader *jr, struct zk_stat *st)
{
    st->czxid = jr_long(jr);
    st->mzxid = jr_long(jr);
    st->ctime = jr_long(jr);
    st->mtime = jr_long(jr);
    st->version = jr_int(jr);
    st->cversion = jr_int(jr);
    st->aversion = jr_int(jr);
    st->ephemeral_owner = jr_long(jr);
    st->data_length = jr_int(jr);
    st->num_children = jr_int(jr);
    st->pzxid = jr_long(jr);
}

void zk_reply_header_write(struct jute_writer *jw, int32_t xid, int64_t zxid, int32_t err)
{
    jw_int(jw, xid);
    jw_long(jw, zxid);
    jw_int(jw, err);
}

int zk_op_is_write(int32_t op)
{
    switch (op) {
    case ZOP_CREATE: case ZOP_DELETE: case ZOP_SETDATA: case ZOP_SETACL: case ZOP_CHECK:
    case ZOP_MULTI: case ZOP_CREATE2: case ZOP_CREATECONTAINER: case ZOP_DELETECONTAINER:
    case ZOP_CREATETTL: case ZOP_CREATESESSION: case ZOP_CLOSESESSION: case ZOP_RECONFIG:
        return 1;
    default:
        return 0;
    }
}

const char *zk_err_name(int32_t err)
{
    switch (err) {
    case ZE_OK: return "OK";
    case ZE_SYSTEMERROR: return "SystemError";
    case ZE_RUNTIMEINCONSISTENCY: return "RuntimeInconsistency";
    case ZE_DATAINCONSISTENCY: return "DataInconsistency";
    case ZE_CONNECTIONLOSS: return "ConnectionLoss";
    case ZE_MARSHALLINGERROR: return "MarshallingError";
    case ZE_UNIMPLEMENTED: return "Unimplemented";
    case ZE_OPERATIONTIMEOUT: return "OperationTimeout";
    case ZE_BADARGUMENTS: return "BadArguments";
    case ZE_NEWCONFIGNOQUORUM: return "NewConfigNoQuorum";
    case ZE_RECONFIGINPROGRESS: return "ReconfigInProgress";
    case ZE_NONODE: return "NoNode";
    case ZE_NOAUTH: return "NoAuth";
    case ZE_BADVERSION: return "BadVersion";
    case ZE_NOCHILDRENFOREPHEMERALS: return "NoChildrenForEphemerals";
    case ZE_NODEEXISTS: return "NodeExists";
    case ZE_NOTEMPTY: return "NotEmpty";
    case ZE_SESSIONEXPIRED: return "SessionExpired";
    case ZE_INVALIDACL: return "InvalidACL";
    case ZE_AUTHFAILED: return "AuthFailed";
    case ZE_SESSIONMOVED: return "SessionMoved";
    case ZE_NOTREADONLY: return "NotReadOnly";
    case ZE_NOWATCHER: return "NoWatcher";
    case ZE_RECONFIGDISABLED: return "ReconfigDisabled";
    case ZE_SESSIONCLOSEDREQUIRESASLAUTH: return "SessionClosedRequireAuth";
    case ZE_QUOTAEXCEEDED: return "QuotaExceeded";
    default: return "Unknown";
    }
}

const char *zk_op_name(int32_t op)
{
    switch (op) {
    case ZOP_CREATE: return "create";
    case ZOP_DELETE: return "delete";
    case ZOP_EXISTS: return "exists";
    case ZOP_GETDATA: return "getData";
    case ZOP_SETDATA: return "setData";
    case ZOP_GETACL: return "getACL";
    case ZOP_SETACL: return "setACL";
    case ZOP_GETCHILDREN: return "getChildren";
    case ZOP_SYNC: return "sync";
    case ZOP_PING: return "ping";
    case ZOP_GETCHILDREN2: return "getChildren2";
    case ZOP_CHECK: return "check";
    case ZOP_MULTI: return "multi";
    case ZOP_CREATE2: return "create2";
    case ZOP_RECONFIG: return "reconfig";
    case ZOP_CHECKWATCHES: return "checkWatches";
    case ZOP_REMOVEWATCHES: return "removeWatches";
    case ZOP_CREATECONTAINER: return "createContainer";
    case ZOP_DELETECONTAINER: return "deleteContainer";
    case ZOP_CREATETTL: return "createTTL";
    case ZOP_MULTIREAD: return "multiRead";
    case ZOP_AUTH: return "auth";
    case ZOP_SETWATCHES: return "setWatches";
    case ZOP_SASL: return "sasl";
    case ZOP_GETEPHEMERALS: return "getEphemerals";
    case ZOP_GETALLCHILDRENNUMBER: return "getAllChildrenNumber";
    case ZOP_SETWATCHES2: return "setWatches2";
    case ZOP_ADDWATCH: return "addWatch";
    case ZOP_WHOAMI: return "whoAmI";
    case ZOP_CREATESESSION: return "createSession";
    case ZOP_CLOSESESSION: return "closeSession";
    default: return "unknown";
    }
}
