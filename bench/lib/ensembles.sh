# shellcheck shell=bash disable=SC2154  # the sourcing script sets project, run, build, ...
# Shell functions shared by bench/vs-zookeeper and bench/scale (sourced, not run): start, watch,
# kill and restart an Apache ZooKeeper 3.8 ensemble (QuorumPeerMain from Debian's jar) and a
# zabkeeper ensemble (deploy/localcluster) side by side on loopback, read four-letter words,
# and read the members' memory and disk use.
#
# The sourcing script sets, before calling anything:
#   project   the source tree            run      state directory (zk/ and zab/ under it)
#   members   3 or 5                     zab_base, zk_base   base ports (client base+id,
#                                                            peer base+10+id, election base+20+id)
# and may set zk_extra_config / ZABKEEPER_EXTRA_CONFIG (zoo.cfg lines, newline-separated) for
# settings both systems get (e.g. snapCount), zk_extra_classpath (jars ZooKeeper's JVM needs
# beyond zookeeper.jar's manifest, e.g. netty-codec for NettyServerCnxnFactory), and define a
# function member_config SYS ID printing zoo.cfg lines of one member only (e.g. its
# secureClientPort). Both run with tickTime 2000, initLimit 10,
# syncLimit 5, fsync on (ZooKeeper's default forceSync=yes; zabkeeper always syncs),
# maxClientCnxns=0, 4lw.commands.whitelist=*; ZooKeeper's admin server off and its JVM heap at the
# default (Debian sets no -Xmx). A member's pid is in $run/<zk|zab>/m<id>/pid.

log() { echo "${0##*/}: $*" >&2; }

# Debian's zookeeper installed (apt-get) and the given binaries built in $build (RelWithDebInfo;
# each path's base name is its CMake target).
ensure_tools() { # BINARY_PATH...
    local p missing=()
    if [[ ! -f /usr/share/java/zookeeper.jar ]]; then
        log "installing Debian's zookeeper"
        local sudo=; ((EUID == 0)) || sudo=sudo
        $sudo apt-get install -y zookeeper >/dev/null
    fi
    for p in "$@"; do [[ -x $p ]] || missing+=("$(basename "$p")"); done
    if ((${#missing[@]})); then
        log "building ${missing[*]} in $build"
        cmake -S "$project" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        make -C "$build" -j2 "${missing[@]}" >/dev/null
    fi
}

fourlw() { # PORT WORD
    (exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1" && printf '%s' "$2" >&3 && timeout 2 cat <&3) || true
}
mode_at() { fourlw "$1" srvr | sed -n 's/^Mode: //p'; }
zxid_at() { fourlw "$1" srvr | sed -n 's/^Zxid: //p'; }

connect_of() { # BASE [IDS...]: the client connect string of those members (default all)
    local base=$1 list="" id
    shift
    (($#)) || set -- $(seq 1 "$members")
    for id in "$@"; do list+="${list:+,}127.0.0.1:$((base + id))"; done
    echo "$list"
}

base_of() { [[ $1 == zab ]] && echo "$zab_base" || echo "$zk_base"; } # SYS
pid_of() { cat "$run/$1/m$2/pid"; } # SYS ID

# Wait until every member answers and one of them leads.
wait_healthy() { # BASE [SECONDS]
    local id m ok lead
    for _ in $(seq 1 $((${2:-60} * 10))); do
        ok=1 lead=0
        for id in $(seq 1 "$members"); do
            m=$(mode_at $(($1 + id)))
            [[ $m == leader ]] && lead=1
            [[ $m == leader || $m == follower ]] || ok=0
        done
        ((ok && lead)) && return 0
        sleep 0.1
    done
    log "ensemble on base port $1 not healthy after ${2:-60} s"; return 1
}

# Wait until every member serves and reports the same zxid (writes stopped before).
wait_synced() { # SYS [SECONDS]
    local base z first id same
    base=$(base_of "$1")
    for _ in $(seq 1 $((${2:-120} * 10))); do
        same=1 first=
        for id in $(seq 1 "$members"); do
            z=$(zxid_at $((base + id)))
            [[ -n $z ]] || { same=0; break; }
            first=${first:-$z}
            [[ $z == "$first" ]] || same=0
        done
        ((same)) && return 0
        sleep 0.1
    done
    log "$1: members not at one zxid after ${2:-120} s"; return 1
}

leader_id() { # SYS
    local id base
    base=$(base_of "$1")
    for id in $(seq 1 "$members"); do
        [[ $(mode_at $((base + id))) == leader ]] && { echo "$id"; return; }
    done
    return 1
}

zk_write_config() { # ID
    local id=$1 d=$run/zk/m$1 j
    mkdir -p "$d/data"
    echo "$id" >"$d/data/myid"
    {
        echo "tickTime=2000"; echo "initLimit=10"; echo "syncLimit=5"
        echo "dataDir=$d/data"; echo "clientPort=$((zk_base + id))"
        echo "maxClientCnxns=0"; echo "4lw.commands.whitelist=*"; echo "admin.enableServer=false"
        for j in $(seq 1 "$members"); do
            echo "server.$j=127.0.0.1:$((zk_base + 10 + j)):$((zk_base + 20 + j))"
        done
        [[ -z ${zk_extra_config:-} ]] || printf '%s\n' "$zk_extra_config"
        ! declare -F member_config >/dev/null || member_config zk "$id"
    } >"$d/zoo.cfg"
}

zk_start() { # ID
    local d=$run/zk/m$1
    java -Dzookeeper.log.dir="$d" -Dzookeeper.root.logger=INFO,CONSOLE \
        -Dzookeeper.admin.enableServer=false \
        -cp "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar${zk_extra_classpath:+:$zk_extra_classpath}" \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" \
        >>"$d/server.log" 2>&1 </dev/null &
    echo $! >"$d/pid"
}

zab_ctl() { ZABKEEPER_CLUSTER_DIR=$run/zab ZABKEEPER_BASE_PORT=$zab_base "$project/deploy/localcluster" "$@"; }

# Start the zabkeeper ensemble (localcluster up). localcluster gives every member the same
# ZABKEEPER_EXTRA_CONFIG; with a member_config function the members are then stopped, each
# config gets its own lines, and they are started again (the caller waits for health).
zab_up() {
    local id
    zab_ctl up "$members" >/dev/null
    declare -F member_config >/dev/null || return 0
    zab_ctl down >/dev/null
    for id in $(seq 1 "$members"); do member_config zab "$id" >>"$run/zab/m$id/zoo.cfg"; done
    for id in $(seq 1 "$members"); do zab_ctl start "$id"; done
}

start_system() { # SYS: start an ensemble and wait until it serves
    local id
    if [[ $1 == zab ]]; then
        zab_up
    else
        for id in $(seq 1 "$members"); do zk_write_config "$id"; zk_start "$id"; done
    fi
    wait_healthy "$(base_of "$1")"
}

stop_system() { # SYS
    local id p
    if [[ $1 == zab ]]; then zab_ctl down >/dev/null 2>&1 || true; return; fi
    for id in $(seq 1 "$members"); do
        p=$(cat "$run/zk/m$id/pid" 2>/dev/null) || continue
        kill -TERM "$p" 2>/dev/null || true
    done
    sleep 1
    for id in $(seq 1 "$members"); do
        p=$(cat "$run/zk/m$id/pid" 2>/dev/null) || continue
        kill -KILL "$p" 2>/dev/null || true
    done
}

# A killed member may linger as a zombie until its parent (init here) reaps it, and
# localcluster would take it for alive: wait for the reap, else forget the pid.
wait_gone() { # SYS ID
    local pid state
    pid=$(pid_of "$1" "$2")
    for _ in $(seq 1 100); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 0
        [[ $state == Z ]] || { sleep 0.1; continue; }
        sleep 0.1
    done
    rm -f "$run/$1/m$2/pid"
}

start_member() { # SYS ID (its data kept)
    wait_gone "$1" "$2"
    if [[ $1 == zab ]]; then zab_ctl start "$2"; else zk_start "$2"; fi
}

restart_member() { # SYS ID: start it again and wait until the ensemble is healthy
    start_member "$1" "$2"
    wait_healthy "$(base_of "$1")"
}

rss_kb() { # SYS ID [FIELD]: VmRSS (or VmHWM, the peak) of a member in kB
    awk -v f="${3:-VmRSS}:" '$1 == f {print $2}' "/proc/$(pid_of "$1" "$2")/status"
}

data_bytes() { # SYS ID: bytes on disk under the member's data directory
    du -s --block-size=1 "$run/$1/m$2/data" | cut -f1
}

# Print a table from lines "wl=W sys=zab|zk metric=M value=V" (several values of one row are
# averaged), rows in order of first appearance, with both systems and the zab/zk ratio.
print_ratio_table() { # FILE TITLE
    awk -v title="$2" '
    function kv(line, key) { line = " " line; return match(line, " " key "=[^ ]+") ? substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2) : "" }
    $0 ~ / metric=/ {
        w = kv($0, "wl"); s = kv($0, "sys"); m = kv($0, "metric"); gsub(/_/, " ", m); v = kv($0, "value")
        if (v == "") next
        k = w SUBSEP m
        if (!(k in seen)) { seen[k] = 1; order[n++] = k }
        sum[k, s] += v; cnt[k, s]++
    }
    END {
        printf "\n%s\n", title
        printf "| %-18s | %-40s | %12s | %12s | %8s |\n", "workload", "metric", "zabkeeper", "zookeeper", "zab/zk"
        printf "|%s|%s|%s|%s|%s|\n", "--------------------", "------------------------------------------", "-------------:", "-------------:", "---------:"
        for (i = 0; i < n; i++) {
            k = order[i]; split(k, p, SUBSEP)
            a = cnt[k, "zab"] ? sum[k, "zab"] / cnt[k, "zab"] : -1
            b = cnt[k, "zk"] ? sum[k, "zk"] / cnt[k, "zk"] : -1
            r = (a >= 0 && b > 0) ? sprintf("%.2f", a / b) : "-"
            printf "| %-18s | %-40s | %12s | %12s | %8s |\n", p[1], p[2], (a < 0 ? "-" : sprintf("%.6g", a)), (b < 0 ? "-" : sprintf("%.6g", b)), r
        }
    }' "$1"
}
