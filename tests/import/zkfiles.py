"""Apache ZooKeeper's data files as the import tests need them: the whole entries of a
transaction log (where each starts and which zxid it holds), written independently of the
importer so the tests can cut a log exactly one entry short.

Log file: FileHeader (16 bytes), then entries: long adler32, int length, txn bytes, byte 'B';
the txn bytes begin with TxnHeader {long clientId, int cxid, long zxid, long time, int type}.
"""
import mmap
import os
import re
import struct

HEADER_LEN = 16


def files(vdir, prefix):
    """[(zxid, path)] of prefix.<hex> files in vdir, ascending."""
    out = []
    for name in os.listdir(vdir):
        m = re.fullmatch(prefix + r"\.([0-9a-fA-F]+)", name)
        if m:
            out.append((int(m.group(1), 16), os.path.join(vdir, name)))
    return sorted(out)


def log_entries(path):
    """[(offset, length, zxid)] of the whole entries of a log file, in order."""
    out = []
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < HEADER_LEN:
            return out
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            pos = HEADER_LEN
            while pos + 12 <= size:
                _crc, n = struct.unpack_from(">qi", m, pos)
                end = pos + 12 + n
                if n < 32 or end + 1 > size or m[end] != 0x42:
                    break
                zxid = struct.unpack_from(">q", m, pos + 12 + 12)[0]
                out.append((pos, 12 + n + 1, zxid))
                pos = end + 1
    return out


def last_entry(vdir):
    """(log path, offset, length, zxid) of the last whole entry of the newest log with one."""
    for _zxid, path in reversed(files(vdir, "log")):
        entries = log_entries(path)
        if entries:
            return (path,) + entries[-1]
    raise AssertionError("no log entries in %s" % vdir)
