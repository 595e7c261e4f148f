"""A NOTIFY_SOCKET listener as systemd runs one, for tests/package: it receives sd_notify datagrams
with the sender's credentials (SO_PASSCRED), so a test can tell which process sent READY=1."""
import os
import shutil
import socket
import struct
import tempfile
import time


class NotifySocket:
    """A socket file in its own short-named directory under /tmp (a socket path has at most 107
    bytes); self.path is the NOTIFY_SOCKET value."""

    def __init__(self, owner_uid=None):
        self.dir = tempfile.mkdtemp(prefix="zk-notify.", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(self.path)
        if owner_uid is not None:  # a server that dropped root must be able to send to it
            os.chown(self.path, owner_uid, -1)
        self.messages = []  # (pid, uid, {field: value}) in arrival order

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _receive(self, timeout):
        """One datagram into self.messages; False when none came within timeout (s)."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, ancdata, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return False
        pid = uid = None
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, uid, _ = struct.unpack("iii", payload[:12])
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
        self.messages.append((pid, uid, fields))
        return True

    def drain(self):
        """Everything already queued, without waiting."""
        while self._receive(0):
            pass
        return self.messages

    def wait_for(self, field, value, timeout, pid=None):
        """The first message with field=value (from pid, if given); AssertionError after timeout
        seconds, listing what did arrive."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for m in self.messages[seen:]:
                if m[2].get(field) == value and (pid is None or m[0] == pid):
                    return m
            seen = len(self.messages)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {field}={value} (pid {pid}) within {timeout} s on "
                                     f"{self.path}; received: {self.messages}")
            self._receive(left)

    def has(self, field, value, pid=None):
        return any(m[2].get(field) == value and (pid is None or m[0] == pid)
                   for m in self.drain())


def four_letter(port, word, timeout=2.0):
    """The answer to a four-letter word on 127.0.0.1:port ('' if refused or closed at once)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    return b"".join(chunks).decode(errors="replace")
                chunks.append(b)
    except OSError:
        return ""


def wait_until(cond, timeout, what):
    """Poll cond() every 50 ms until it is true; AssertionError naming `what` after timeout s."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True
