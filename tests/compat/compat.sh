#!/bin/bash
# Helper for the compat ctest entries. Exit code 77 = skipped (ctest SKIP_RETURN_CODE).
#   compat.sh start KIND DIR PORT [zoo.cfg lines]  # fresh DIR, serverctl start (ZK_TICK_TIME default 500)
#   compat.sh stop DIR                              # fails if the server died meanwhile
#   compat.sh run KIND CMD...                       # prerequisite check, then exec CMD
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
serverctl=$here/../harness/serverctl

skip() { echo "SKIPPED: $*"; exit 77; }

prereq() { # KIND
    case $1 in
    zookeeper)
        command -v java >/dev/null || skip "java is not installed (Apache ZooKeeper reference)"
        [[ -f /usr/share/java/zookeeper.jar ]] || skip "Debian package 'zookeeper' is not installed"
        ;;
    zabkeeper)
        [[ -x ${ZABKEEPER_BIN:-} ]] || skip "zabkeeper binary not built (ZABKEEPER_BIN=${ZABKEEPER_BIN:-unset})"
        ;;
    *) echo "compat.sh: unknown kind $1" >&2; exit 2 ;;
    esac
}

alive() { # DIR
    [[ -f $1/pid ]] && kill -0 "$(cat "$1/pid")" 2>/dev/null \
        && [[ $(awk '{print $3}' "/proc/$(cat "$1/pid")/stat" 2>/dev/null) != Z ]]
}

case ${1:-} in
start)
    kind=$2 dir=$3 port=$4
    shift 4
    prereq "$kind"
    [[ -f $dir/pid ]] && "$serverctl" kill "$dir" || true
    rm -rf "$dir"
    # serverctl only polls srvr on the port, so a foreign server already there would be taken
    # for ours: refuse a busy port.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "FAIL: port $port is already in use by another process"; exit 1
    fi
    ZK_TICK_TIME=${ZK_TICK_TIME:-500} exec "$serverctl" start "$kind" "$dir" "$port" "$@"
    ;;
stop)
    dir=$2
    [[ -f $dir/pid ]] || { echo "no server was started in $dir"; exit 0; }
    if ! alive "$dir"; then
        echo "FAIL: the server in $dir died during the tests; tail of its log:"
        tail -n 30 "$dir/server.log" || true
        rm -f "$dir/pid"
        exit 1
    fi
    exec "$serverctl" stop "$dir"
    ;;
run)
    kind=$2
    shift 2
    prereq "$kind"
    for arg in "$@"; do
        case $arg in
        *.py)
            /usr/bin/python3 -c 'import kazoo, pytest' 2>/dev/null \
                || skip "python3-kazoo / python3-pytest are not installed for /usr/bin/python3" ;;&
        *test_climt.py)
            [[ -x /usr/lib/zookeeper/bin/cli_mt ]] || command -v cli_mt >/dev/null \
                || skip "cli_mt (zookeeper-bin) is not installed" ;;
        esac
    done
    exec "$@"
    ;;
*) echo "usage: compat.sh start|stop|run ..." >&2; exit 2 ;;
esac
