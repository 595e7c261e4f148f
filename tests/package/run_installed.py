"""The installed zabkeeper package at work (run by tests/package/run, as root, after apt installed
it): /usr/bin/zabkeeper with /etc/zabkeeper/zoo.cfg as the zabkeeper user, as the unit would run it
(setpriv: that user, no new privileges, cwd /) under strace, with a NOTIFY_SOCKET; READY=1 from
that process once it serves; zabctl create/get and srvr/ruok; a program built against
libzklock-dev via pkg-config; SIGTERM -> STOPPING=1 and exit 0; every system call it made is one
the unit's SystemCallFilter allows.
usage: run_installed.py PORT WORKDIR"""
import glob
import os
import pwd
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notify import NotifySocket, four_letter, port_is_free  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = "/lib/systemd/system/zabkeeper.service"


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def run(cmd, **kw):
    """A command that must succeed; its stdout."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{cmd} exited {r.returncode}: {r.stdout}{r.stderr}")
    return r.stdout


def syscall_groups():
    """{'@group': {members}} from systemd-analyze (members may be groups)."""
    groups, cur = {}, None
    for line in run(["systemd-analyze", "syscall-filter"]).splitlines():
        if line.startswith("@"):
            cur = line.split()[0]
            groups[cur] = set()
        elif cur and line.strip() and not line.strip().startswith("#"):
            groups[cur].add(line.strip())
    return groups


def allowed_syscalls():
    """The system calls the installed unit's SystemCallFilter= lines allow (allow list first,
    then ~deny lists, as systemd applies them)."""
    groups = syscall_groups()

    def expand(names):
        out = set()
        for n in names:
            out |= expand(groups.get(n, ())) if n.startswith("@") else {n}
        return out

    allowed = None
    for line in open(UNIT):
        m = re.match(r"SystemCallFilter=(~?)(.*)", line.strip())
        if not m:
            continue
        names = expand(m.group(2).split())
        if m.group(1):
            allowed = (allowed or set()) - names
        else:
            allowed = names if allowed is None else allowed | names
    check(allowed, f"{UNIT} has a SystemCallFilter")
    return allowed


def traced_syscalls(trace, pid):
    """System calls made by pid (from its exec of /usr/bin/zabkeeper on) and its threads."""
    lines = open(trace).read().splitlines()
    children = {}  # a thread's first lines may precede its parent's clone result: two passes
    for line in lines:
        c = re.match(r"(\d+)\s.*\bclone3?\b.*= (\d+)\s*$", line)
        if c:
            children.setdefault(c.group(1), []).append(c.group(2))
    pids, queue = set(), [str(pid)]
    while queue:
        p = queue.pop()
        if p not in pids:
            pids.add(p)
            queue += children.get(p, [])
    used, started = set(), False
    for line in lines:
        m = re.match(r"(\d+)\s+(?:<\.\.\. )?(\w+)", line)
        if not m or m.group(1) not in pids:
            continue
        if m.group(2) == "execve" and 'execve("/usr/bin/zabkeeper"' in line:
            started = True  # before it: setpriv, whose part systemd itself does
        elif started:
            used.add(m.group(2))
    return used


def main():
    port, work = int(sys.argv[1]), sys.argv[2]
    user = pwd.getpwnam("zabkeeper")
    hosts = f"127.0.0.1:{port}"
    check(port_is_free(port), f"port {port} is free")
    check(f"clientPort={port}\n" in open("/etc/zabkeeper/zoo.cfg").read(),
          "the installed zoo.cfg sets the test's clientPort")

    notify = NotifySocket(owner_uid=user.pw_uid)
    trace = os.path.join(work, "strace.out")
    log = open(os.path.join(work, "server.log"), "w")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NOTIFY_SOCKET": notify.path}
    # Some containers forbid ptrace: then everything but the system-call check runs (said so).
    traced = subprocess.run(["strace", "-qq", "-o", "/dev/null", "true"],
                            capture_output=True).returncode == 0
    # strace exits with the traced command's status: that is zabkeeper's exit status.
    proc = subprocess.Popen(
        (["strace", "-f", "-qq", "-o", trace] if traced else []) +
        ["setpriv", "--reuid=zabkeeper", "--regid=zabkeeper", "--init-groups",
         "--no-new-privs", "--", "/usr/bin/zabkeeper", "/etc/zabkeeper/zoo.cfg"],
        cwd="/", env=env, stdout=log, stderr=subprocess.STDOUT)
    server_pid = None
    try:
        started = time.monotonic()
        server_pid, uid, fields = notify.wait_for("READY", "1", 30)
        print(f"READY=1 after {time.monotonic() - started:.2f} s from pid {server_pid}: {fields}")
        check(os.readlink(f"/proc/{server_pid}/exe") == "/usr/bin/zabkeeper",
              "READY=1 came from /usr/bin/zabkeeper itself (the unit's main process)")
        check(uid == user.pw_uid, "the server runs as the zabkeeper user")
        srvr = four_letter(port, "srvr")
        check("Mode: standalone" in srvr, "srvr right after READY=1: serving (Mode: standalone)")
        check(four_letter(port, "ruok") == "imok", "ruok: imok")

        out = run(["/usr/bin/zabctl", "-s", hosts, "create", "/pkgtest", "hello"])
        check(out.strip() == "/pkgtest", "zabctl create /pkgtest")
        out = run(["/usr/bin/zabctl", "-s", hosts, "get", "/pkgtest"])
        check(out.strip() == "hello", "zabctl get /pkgtest: hello")

        flags = run(["pkg-config", "--cflags", "--libs", "zabkeeper-lock"]).split()
        prog = os.path.join(work, "lockclient")
        run(["cc", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-o", prog,
             os.path.join(HERE, "lockclient.c")] + flags)
        needed = run(["objdump", "-p", prog])
        check(re.search(r"NEEDED\s+libzklock\.so\.0\b", needed),
              "a program built with pkg-config zabkeeper-lock links libzklock.so.0")
        loaded = re.search(r"libzklock\.so\.0 => (\S+)", run(["ldd", prog]))
        installed = glob.glob("/usr/lib/*/libzklock.so.0")
        check(loaded and installed and
              os.path.realpath(loaded.group(1)) == os.path.realpath(installed[0]),
              "it loads the installed libzklock.so.0")
        print(run([prog, hosts]).strip())
        print("ok: it took and released a lock on the installed server")

        check(os.stat("/var/lib/zabkeeper/zabkeeper-log").st_uid == user.pw_uid,
              "the log is in /var/lib/zabkeeper, owned by zabkeeper")

        os.kill(server_pid, signal.SIGTERM)
        notify.wait_for("STOPPING", "1", 10, pid=server_pid)
        print("ok: STOPPING=1 after SIGTERM")
        check(proc.wait(timeout=20) == 0, "clean exit (status 0) after SIGTERM")
    finally:
        if proc.poll() is None:
            if server_pid:
                os.kill(server_pid, signal.SIGKILL)
            proc.kill()
            proc.wait()
        notify.close()
        log.close()

    if not traced:
        print("SKIPPED CHECK: strace cannot trace here (ptrace not permitted): the server's "
              "system calls were not checked against the unit's SystemCallFilter")
        return
    used = traced_syscalls(trace, server_pid)
    blocked = sorted(used - allowed_syscalls())
    print(f"system calls made by the server: {len(used)}: {' '.join(sorted(used))}")
    check(not blocked, f"all allowed by the unit's SystemCallFilter (blocked: {blocked})")


if __name__ == "__main__":
    main()
