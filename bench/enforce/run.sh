#!/bin/bash
# bench/enforce/run.sh: what blocking costs the process that is checked. One
# run measures the latency of open() and of exec, one call at a time, with no
# sensor, under vigild enforcing (first decisions back to back and isolated,
# and kernel-cached allows), under the responder alone (enforce_driver) and
# under fapolicyd (permissive), several times, interleaved, and prints
# medians, ratios vs no sensor, vigild's own decision latency and PASS/FAIL
# against the targets. A measurement, not a test: exits 0 whatever the
# numbers (non-zero only when it cannot run at all). See
# bench/enforce/README.md. Run as root from anywhere:
#
#   bench/enforce/run.sh                              # REPS=5, everything
#   REPS=1 OPEN_N=1000 EXEC_N=200 bench/enforce/run.sh     # quick check
#
# Everything happens on a tmpfs mounted in a private mount namespace of the
# script's own: nothing outside it is ever marked for permission events, and
# the mount disappears with the namespace however the script ends.
#
# Settings (environment):
REPS=${REPS:-5}                  # repetitions of every (condition, row)
OPEN_N=${OPEN_N:-5000}           # timed open()+close() per row and rep
EXEC_N=${EXEC_N:-1000}           # timed fork+execve+waitpid per row and rep
ISO_N=${ISO_N:-200}              # timed isolated operations per row and rep (first decisions, one every GAP_US)
GAP_US=${GAP_US:-5000}           # sleep between isolated operations: every thread of the machine is asleep
WARMUP=${WARMUP:-20}             # untimed iterations before each row (on their own files)
CONDITIONS=${CONDITIONS:-"none vigild driver naive fapolicyd"}   # driver: the responder alone (enforce_driver); naive: the floor (naive.c)
PIN=${PIN:-1}                    # 1: the timed loop runs on CPU 0
SOURCES=${SOURCES:-on}           # on: vigild's eBPF and fanotify sources as deployed; off: both off (enforcement alone)
SENSOR_CPUS=${SENSOR_CPUS:-}     # e.g. 0: run every sensor on these CPUs (taskset -c); default: where the scheduler puts it
FAPOLICYD_TIMEOUT=${FAPOLICYD_TIMEOUT:-300}   # seconds one fapolicyd may run, whatever happens
KEEP=${KEEP:-0}                  # 1: keep the temp dir (logs, metrics, raw results)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VIGILD=${VIGILD:-$REPO/build/bin/vigild}
VIGIL=${VIGIL:-$REPO/build/bin/vigil}
DRIVER=${DRIVER:-$REPO/build/bench/enforce_driver}

set -uo pipefail
export LC_ALL=C

die() { echo "enforce-bench: $*" >&2; exit 1; }
# shellcheck source=../lib.sh
source "$HERE/../lib.sh" || die "cannot read $HERE/../lib.sh"

[[ $(id -u) == 0 ]] || die "run as root (fanotify permission events, mounts and namespaces need it)"
for c in $CONDITIONS; do [[ $c =~ ^(none|vigild|fapolicyd|driver|naive)$ ]] || die "unknown condition $c"; done
for t in cc unshare mount umount curl setpriv timeout; do command -v $t >/dev/null || die "$t not found"; done
[[ $(uname -m) == x86_64 ]] || die "tiny.c is x86-64 only"

# ---------------------------------------------------------------- outer: the namespace
# The outer script only installs fapolicyd if it is missing (that must
# happen on the host), then becomes itself again in a private mount
# namespace (unshare without --fork execs in place: same pid, same signals).
if [[ ${VIGIL_ENFORCE_BENCH_INNER:-} != 1 ]]; then
  if has_cond fapolicyd && ! [[ -x /usr/sbin/fapolicyd ]]; then
    log "installing fapolicyd (apt-get)"
    if ! apt-get install -y fapolicyd >/tmp/vigil-enforce-apt.log 2>&1; then
      apt-get update >>/tmp/vigil-enforce-apt.log 2>&1
      apt-get install -y fapolicyd >>/tmp/vigil-enforce-apt.log 2>&1 || die "cannot install fapolicyd (see /tmp/vigil-enforce-apt.log)"
    fi
    # The package enables its service; we installed it only to measure it.
    DPKG_MAINTSCRIPT_PACKAGE=fapolicyd deb-systemd-helper disable fapolicyd.service >/dev/null 2>&1
    systemctl disable --now fapolicyd.service >/dev/null 2>&1
    # If the install started it (no policy-rc.d), that was not the state before.
    for p in $(pidof fapolicyd 2>/dev/null); do
      kill -TERM "$p"
      for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    rm -f /tmp/vigil-enforce-apt.log
  fi
  if has_cond fapolicyd && pidof fapolicyd >/dev/null; then
    log "a fapolicyd is already running on this host: its marks would add to every row; skipping the fapolicyd condition"
    CONDITIONS=$(sed 's/fapolicyd//' <<<"$CONDITIONS")
  fi
  export VIGIL_ENFORCE_BENCH_INNER=1 CONDITIONS
  exec unshare --mount --propagation private -- "$BASH" "${BASH_SOURCE[0]}" "$@"
fi

# ---------------------------------------------------------------- inner: temp dir and tmpfs
WORK=$(mktemp -d /tmp/vigil-enforce.XXXXXX) || die "mktemp failed"
FS=$WORK/fs                 # the tmpfs: the only filesystem marked for permission events
RESULTS=$WORK/results.tsv   # rep cond row op n p50 p99 mean min max failures
MSTATS=$WORK/metrics.tsv    # rep kind p50 p99 (vigild's own decision latency, from /metrics)
: >"$RESULTS"
: >"$MSTATS"
VPID=""   # running vigild, enforce_driver or naive
FPID=""   # the fapolicyd helper (its own namespace, fapolicyd and the timed loops)

stop_pid() {  # pid seconds-before-SIGKILL
  local p=$1
  [[ -n $p ]] || return 0
  kill -TERM "$p" 2>/dev/null
  for _ in $(seq $(($2 * 10))); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then
    log "pid $p ignored SIGTERM for $2 s: SIGKILL"
    kill -KILL "$p" 2>/dev/null
  fi
  wait "$p" 2>/dev/null
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  stop_pid "$VPID" 10; VPID=""
  if [[ -n $FPID ]]; then
    # fapolicyd runs under timeout (the pid in the file), in the helper; it
    # would die with them anyway (PDEATHSIG), but wait until it is gone.
    local t="" f=""
    [[ -s $WORK/fap/fapolicyd.pid ]] && t=$(cat "$WORK/fap/fapolicyd.pid") && f=$(pgrep -P "$t")
    [[ -n $t ]] && kill -TERM "$t" 2>/dev/null
    stop_pid "$FPID" 10; FPID=""
    for p in $f $t; do
      for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$p" 2>/dev/null
    done
  fi
  umount "$FS" 2>/dev/null || umount -l "$FS" 2>/dev/null
  if [[ $KEEP == 1 ]]; then
    echo "enforce-bench: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

mkdir -p "$FS" "$WORK/bin" "$WORK/rules" "$WORK/vigild" "$WORK/fap"
mount -t tmpfs -o size=256m,mode=0755 vigil-enforce-bench "$FS" || die "cannot mount a tmpfs on $FS"
for t in oplat naive; do cc -O2 -Wall -Wextra -o "$WORK/bin/$t" "$HERE/$t.c" || die "cannot build $t.c"; done
cc -static -nostdlib -O2 -Wall -Wextra -s -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noseparate-code \
  -o "$WORK/bin/tiny" "$HERE/tiny.c" || die "cannot build tiny.c"
"$WORK/bin/tiny" || die "tiny does not run"
OPLAT=$WORK/bin/oplat

# Files: OPEN_N + WARMUP empty files and EXEC_N + WARMUP copies of tiny
# (distinct inodes: an ignore mark covers one inode). Every sensor instance
# runs only one "first" row of a kind, so they are new to each of them.
mkdir "$FS/o" "$FS/x"
for ((i = 0; i < OPEN_N + WARMUP; i++)); do : >"$FS/o/f$i"; done
for ((i = 0; i < EXEC_N + WARMUP; i++)); do cp "$WORK/bin/tiny" "$FS/x/p$i"; done
for ((i = 0; i < ISO_N + WARMUP; i++)); do : >"$FS/o/i$i"; cp "$WORK/bin/tiny" "$FS/x/i$i"; done
: >"$FS/o/same0"
cp "$WORK/bin/tiny" "$FS/x/same0"

# Blocking rules that match nothing the loops touch: every event is decided and allowed.
cat >"$WORK/rules/block.yml" <<'EOF'
title: enforce bench, exec that never happens
id: 5b0e6f0c-2f4a-4c1e-9d7a-0e1f00000001
status: test
level: high
vigil:
  action: block
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    Image|endswith: /never-run-this
  condition: selection
---
title: enforce bench, open that never happens
id: 5b0e6f0c-2f4a-4c1e-9d7a-0e1f00000002
status: test
level: high
vigil:
  action: block
logsource:
  product: linux
  category: file_access
detection:
  selection:
    TargetFilename|endswith: /never-open-this
  condition: selection
EOF

if has_cond vigild; then
  [[ -x $VIGILD && -x $VIGIL ]] || die "no vigild/vigil at $VIGILD, $VIGIL (cmake --preset release && ninja -C build vigild vigil)"
  # Private copies: a rebuild during the run must not change what runs.
  cp "$VIGILD" "$WORK/bin/vigild" || die "cannot copy vigild"
  "$VIGIL" content build --strict "$WORK/rules" -o "$WORK/vigild/enforce.vbundle" >"$WORK/vigild/build.log" 2>&1 ||
    { cat "$WORK/vigild/build.log" >&2; die "cannot build the content bundle"; }
  cat >"$WORK/vigild/vigild.toml" <<EOF
# bench/enforce: vigild enforcing on the benchmark's tmpfs only, with the two
# never-matching blocking rules; sources $SOURCES.
[sources]
ebpf = $([[ $SOURCES == on ]] && echo true || echo false)
fanotify = $([[ $SOURCES == on ]] && echo true || echo false)
[content]
path = "$WORK/vigild/enforce.vbundle"
watch = false
store = ""
trust_root = ""
[sinks]
stdout = false
[sinks.jsonl]
path = "$WORK/vigild/alerts.jsonl"
[metrics]
listen = "127.0.0.1:0"
[enforce]
enabled = true
paths = ["$FS"]
exec = true
open = true
EOF
fi
if has_cond driver; then
  if [[ -x $DRIVER ]]; then
    cp "$DRIVER" "$WORK/bin/enforce_driver" || die "cannot copy enforce_driver"
  else
    log "no enforce_driver at $DRIVER (ninja -C build enforce_driver): skipping the driver condition"
    CONDITIONS=$(sed 's/driver//' <<<"$CONDITIONS")
  fi
fi

# ---------------------------------------------------------------- fapolicyd setup
# fapolicyd reads its configuration from fixed paths. Nothing of the host's is
# changed: the helper below runs in a mount namespace of its own where our
# files are bind-mounted over /etc/fapolicyd, /var/lib/fapolicyd and /run,
# and where every tmpfs except ours is unmounted, so `watch_fs = tmpfs`
# marks exactly our tmpfs (fapolicyd marks mounts, FAN_MARK_MOUNT, of the
# listed filesystem types in its /proc/mounts; the script checks the mounts
# it reports). The mounts it could mark are this namespace's own copies: no
# access from outside the namespace can reach them anyway.
if has_cond fapolicyd; then
  mkdir -p "$WORK/fap/etc/rules.d" "$WORK/fap/etc/trust.d" "$WORK/fap/lib" "$WORK/fap/run/fapolicyd"
  # Debian's fapolicyd.conf, except: permissive (never denies), our tmpfs
  # only, the file trust backend (no rpm here), root (it cannot drop to its
  # own uid in every container) and nice 0 like vigild.
  cat >"$WORK/fap/etc/fapolicyd.conf" <<'EOF'
permissive = 1
nice_val = 0
q_size = 640
uid = root
gid = root
do_stat_report = 1
detailed_report = 0
db_max_size = 50
subj_cache_size = 1549
obj_cache_size = 8191
watch_fs = tmpfs
trust = file
integrity = none
syslog_format = rule,dec,perm,auid,pid,exe,:,path,ftype,trust
rpm_sha256_only = 0
allow_filesystem_mark = 0
EOF
  # The same policy as vigild's: one rule per kind that matches nothing, then allow.
  cat >"$WORK/fap/etc/compiled.rules" <<'EOF'
deny perm=execute all : path=/never-run-this
deny perm=open all : path=/never-open-this
allow perm=any all : all
EOF
  : >"$WORK/fap/etc/fapolicyd.trust"
  cat >"$WORK/fap/helper.sh" <<'EOF'
# Runs in its own mount namespace: fapolicyd, then the timed loops.
# args: WORK FS OPLAT TIMEOUT PIN SENSOR_CPUS rows...
set -uo pipefail
WORK=$1 FS=$2 OPLAT=$3 TIMEOUT=$4 PIN=$5 SENSOR_CPUS=$6
shift 6
ons=(env); [[ -n $SENSOR_CPUS ]] && ons=(taskset -c "$SENSOR_CPUS")
mount --bind "$WORK/fap/etc" /etc/fapolicyd || exit 1
mount --bind "$WORK/fap/lib" /var/lib/fapolicyd || exit 1
mount --bind "$WORK/fap/run" /run || exit 1
awk -v keep="$FS" '$3 == "tmpfs" && $2 != keep {print $2}' /proc/self/mounts | sort -r | while read -r m; do
  umount -l "$m" 2>/dev/null
done
# Bounded three ways: timeout; TERM to timeout (and so to fapolicyd) if this
# helper dies; KILL to fapolicyd if timeout dies.
setpriv --pdeathsig TERM -- timeout -k 5 "$TIMEOUT" setpriv --pdeathsig KILL -- "${ons[@]}" /usr/sbin/fapolicyd --debug-deny \
  --permissive 2>"$WORK/fap/fapolicyd.log" &
FAP=$!
echo "$FAP" >"$WORK/fap/fapolicyd.pid"
for _ in $(seq 300); do
  grep -q 'Starting to listen for events' "$WORK/fap/fapolicyd.log" && break
  kill -0 "$FAP" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q 'Starting to listen for events' "$WORK/fap/fapolicyd.log"; then
  echo "fapolicyd did not start:" >&2; cat "$WORK/fap/fapolicyd.log" >&2
  kill -TERM "$FAP" 2>/dev/null; wait "$FAP"; exit 1
fi
marks=$(grep -o 'added .* mount point' "$WORK/fap/fapolicyd.log" | sed 's/^added //; s/ mount point$//')
if [[ $marks != "$FS" ]]; then
  echo "fapolicyd marked [$marks], not only $FS: not measuring it" >&2
  kill -TERM "$FAP" 2>/dev/null; wait "$FAP"; exit 1
fi
sleep 1
on0=(env); [[ $PIN == 1 ]] && on0=(taskset -c 0)
for row in "$@"; do
  IFS=: read -r name op prefix count n warmup gap <<<"$row"
  echo "$name $op $(setpriv --pdeathsig KILL -- "${on0[@]}" "$OPLAT" "$op" "$n" "$prefix" "$count" "$warmup" "$gap")"
done
kill -TERM "$FAP" 2>/dev/null
wait "$FAP"
EOF
fi

# ---------------------------------------------------------------- conditions
if [[ $PIN == 1 ]]; then
  command -v taskset >/dev/null || die "taskset not found (util-linux); or PIN=0"
  ON0=(taskset -c 0)
else
  ON0=(env)
fi
ONS=(env)
[[ -n $SENSOR_CPUS ]] && ONS=(taskset -c "$SENSOR_CPUS")
METRICS_URL=""

start_vigild() {
  local errlog=$WORK/vigild/stderr.log
  : >"$errlog"
  # PDEATHSIG: if this script is killed outright, vigild stops anyway.
  setpriv --pdeathsig TERM -- "${ONS[@]}" "$WORK/bin/vigild" --no-supervisor --config "$WORK/vigild/vigild.toml" \
    >>"$WORK/vigild/stdout.log" 2>"$errlog" &
  VPID=$!
  for _ in $(seq 300); do
    grep -q 'running: sources' "$errlog" && break
    kill -0 "$VPID" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q 'running: sources' "$errlog" || ! grep -q 'enforce: permission responder on' "$errlog"; then
    log "vigild did not start enforcing:"; cat "$errlog" >&2
    stop_pid "$VPID" 10; VPID=""
    return 1
  fi
  METRICS_URL=$(grep -o 'http://[^ ]*/metrics' "$errlog" | tail -1)
  sleep 1
}

start_driver() {
  setpriv --pdeathsig TERM -- "${ONS[@]}" "$WORK/bin/enforce_driver" --path "$FS" --exec --open "$WORK/rules/block.yml" \
    >"$WORK/driver.out" 2>"$WORK/driver.err" &
  VPID=$!
  for _ in $(seq 100); do grep -q ready "$WORK/driver.out" 2>/dev/null && break; kill -0 "$VPID" 2>/dev/null || break; sleep 0.1; done
  grep -q ready "$WORK/driver.out" || { log "enforce_driver did not start:"; cat "$WORK/driver.err" >&2; VPID=""; return 1; }
}

start_naive() {
  setpriv --pdeathsig TERM -- "${ONS[@]}" "$WORK/bin/naive" "$FS" >"$WORK/naive.out" 2>"$WORK/naive.err" &
  VPID=$!
  for _ in $(seq 100); do grep -q ready "$WORK/naive.out" 2>/dev/null && break; kill -0 "$VPID" 2>/dev/null || break; sleep 0.1; done
  grep -q ready "$WORK/naive.out" || { log "naive did not start:"; cat "$WORK/naive.err" >&2; VPID=""; return 1; }
}

# One timed row: rep cond name op prefix count n [gap_us]
row() {
  local out
  out=$(setpriv --pdeathsig KILL -- "${ON0[@]}" "$OPLAT" "$4" "$7" "$5" "$6" "$WARMUP" "${8:-0}") ||
    log "WARNING: rep $1 $2 $3: some operations failed"
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$(tr ' ' '\t' <<<"$out")" >>"$RESULTS"
  log "rep $1  $(printf '%-9s %-6s %-4s' "$2" "$3" "$4")  n p50 p99 mean min max failed: $out"
}

# The responder's own decision latency (read -> answer) for what was decided so far.
scrape_decisions() {  # rep kind
  sleep 1.2  # metrics refresh once a second
  local m
  m=$(curl -s --max-time 5 "$METRICS_URL") || return 0
  local p50 p99
  p50=$(awk '/^vigil_enforce_decision_latency_us\{quantile="0.5"\}/ {print $2}' <<<"$m")
  p99=$(awk '/^vigil_enforce_decision_latency_us\{quantile="0.99"\}/ {print $2}' <<<"$m")
  [[ -n $p50 ]] && printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$p50" "$p99" >>"$MSTATS"
  grep -E '^vigil_enforce_(answers_total|errors_total|kernel_overflows_total)' <<<"$m" | awk '$2 != 0' >>"$WORK/vigild/counters.log"
}

run_condition() {  # rep cond
  local rep=$1 cond=$2 kind
  case $cond in
    none)
      row "$rep" none first open "$FS/o/f" $((OPEN_N + WARMUP)) "$OPEN_N"
      row "$rep" none same open "$FS/o/same" 1 "$OPEN_N"
      row "$rep" none first exec "$FS/x/p" $((EXEC_N + WARMUP)) "$EXEC_N"
      row "$rep" none same exec "$FS/x/same" 1 "$EXEC_N"
      row "$rep" none isolated open "$FS/o/i" $((ISO_N + WARMUP)) "$ISO_N" "$GAP_US"
      row "$rep" none isolated exec "$FS/x/i" $((ISO_N + WARMUP)) "$ISO_N" "$GAP_US"
      ;;
    vigild | driver)
      # A fresh sensor per kind, so its decision histogram is that kind's and
      # no file of the "first" row was ever decided by it.
      for kind in open exec; do
        local dir=o n=$OPEN_N
        [[ $kind == exec ]] && dir=x n=$EXEC_N
        if [[ $cond == vigild ]]; then start_vigild || return 1; else start_driver || return 1; fi
        [[ $kind == open ]] && row "$rep" "$cond" first open "$FS/o/f" $((OPEN_N + WARMUP)) "$n"
        [[ $kind == exec ]] && row "$rep" "$cond" first exec "$FS/x/p" $((EXEC_N + WARMUP)) "$n"
        [[ $cond == vigild ]] && scrape_decisions "$rep" "$kind"
        row "$rep" "$cond" same "$kind" "$FS/$dir/same" 1 "$n"
        row "$rep" "$cond" isolated "$kind" "$FS/$dir/i" $((ISO_N + WARMUP)) "$ISO_N" "$GAP_US"
        stop_pid "$VPID" 10; VPID=""
        if [[ $cond == driver ]]; then
          awk -v r="$rep" -v k="$kind" '$1 == "decision_p50_us" {p50 = $2} $1 == "decision_p99_us" {p99 = $2}
            END {printf "%s\tdriver-%s\t%s\t%s\n", r, k, p50, p99}' "$WORK/driver.out" >>"$MSTATS"
        fi
      done
      ;;
    naive)
      # The floor: first decisions only (it caches nothing), one instance for all rows.
      start_naive || return 1
      row "$rep" naive first open "$FS/o/f" $((OPEN_N + WARMUP)) "$OPEN_N"
      row "$rep" naive first exec "$FS/x/p" $((EXEC_N + WARMUP)) "$EXEC_N"
      row "$rep" naive isolated open "$FS/o/i" $((ISO_N + WARMUP)) "$ISO_N" "$GAP_US"
      row "$rep" naive isolated exec "$FS/x/i" $((ISO_N + WARMUP)) "$ISO_N" "$GAP_US"
      stop_pid "$VPID" 10; VPID=""
      ;;
    fapolicyd)
      setpriv --pdeathsig TERM -- unshare --mount --propagation private -- "$BASH" "$WORK/fap/helper.sh" "$WORK" "$FS" "$OPLAT" \
        "$FAPOLICYD_TIMEOUT" "$PIN" "$SENSOR_CPUS" \
        "first:open:$FS/o/f:$((OPEN_N + WARMUP)):$OPEN_N:$WARMUP:0" "same:open:$FS/o/same:1:$OPEN_N:$WARMUP:0" \
        "first:exec:$FS/x/p:$((EXEC_N + WARMUP)):$EXEC_N:$WARMUP:0" "same:exec:$FS/x/same:1:$EXEC_N:$WARMUP:0" \
        "isolated:open:$FS/o/i:$((ISO_N + WARMUP)):$ISO_N:$WARMUP:$GAP_US" \
        "isolated:exec:$FS/x/i:$((ISO_N + WARMUP)):$ISO_N:$WARMUP:$GAP_US" \
        >"$WORK/fap/rows.out" 2>>"$WORK/fap/helper.err" &
      FPID=$!
      wait "$FPID"
      local rc=$?
      FPID=""
      if [[ $rc != 0 ]]; then
        log "fapolicyd condition failed:"; cat "$WORK/fap/helper.err" >&2
        return 1
      fi
      local name op rest
      while read -r name op rest; do
        printf '%s\tfapolicyd\t%s\t%s\t%s\n' "$rep" "$name" "$op" "$(tr ' ' '\t' <<<"$rest")" >>"$RESULTS"
        log "rep $rep  $(printf '%-9s %-6s %-4s' fapolicyd "$name" "$op")  n p50 p99 mean min max failed: $rest"
      done <"$WORK/fap/rows.out"
      grep -E '^(Allowed|Denied) accesses|^(Subject|Object) (hits|misses)' "$WORK/fap/fapolicyd.log" >"$WORK/fap/last_report.txt"
      ;;
  esac
}

# ---------------------------------------------------------------- run
echo "== vigil enforcement benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -r)  $(nproc) cores"
echo "load at start: $(uptime)"
echo "settings: PIN=$PIN SENSOR_CPUS=${SENSOR_CPUS:-any} SOURCES=$SOURCES REPS=$REPS OPEN_N=$OPEN_N EXEC_N=$EXEC_N ISO_N=$ISO_N GAP_US=$GAP_US WARMUP=$WARMUP; conditions: $CONDITIONS; work dir: $WORK"
has_cond vigild && echo "vigild: $VIGILD ($(stat -c %y "$VIGILD" | cut -d. -f1))"
has_cond fapolicyd && echo "fapolicyd: $(dpkg-query -W -f='${Version}' fapolicyd 2>/dev/null), permissive, watch_fs = tmpfs (this tmpfs only)"

log "warm-up (not recorded)"
"${ON0[@]}" "$OPLAT" open 2000 "$FS/o/same" 1 0 >/dev/null
"${ON0[@]}" "$OPLAT" exec 200 "$FS/x/same" 1 0 >/dev/null

run_rotated
echo "load at end:   $(uptime)"

# ---------------------------------------------------------------- report
rowstat() {  # cond row op column(6 p50, 7 p99, 8 mean) -> median over reps
  awk -F'\t' -v c="$1" -v r="$2" -v o="$3" -v k="$4" '$2 == c && $3 == r && $4 == o {print $k}' "$RESULTS" | median
}
declare -A P50 P99 MEAN

echo
echo "== latency seen by the calling process, us (median over $REPS reps of each rep's p50 / p99 / mean)"
echo "   open = open(O_RDONLY)+close of an existing file; exec = fork + execve of a static program + waitpid"
printf '%-5s %-26s %9s %9s %9s %11s %11s\n' op row p50 p99 mean x_none_p50 +p50_us
label() {
  case $1.$2 in
    none.first) echo "no sensor (distinct files)" ;; none.same) echo "no sensor (same file)" ;;
    none.isolated) echo "no sensor, isolated" ;;
    vigild.first) echo "vigild, first decision" ;; vigild.same) echo "vigild, cached" ;;
    vigild.isolated) echo "vigild, first, isolated" ;;
    driver.first) echo "responder alone, first" ;; driver.same) echo "responder alone, cached" ;;
    driver.isolated) echo "responder alone, isolated" ;;
    naive.first) echo "naive responder (floor)" ;; naive.isolated) echo "naive responder, isolated" ;;
    fapolicyd.first) echo "fapolicyd (distinct files)" ;; fapolicyd.same) echo "fapolicyd (same file)" ;;
    fapolicyd.isolated) echo "fapolicyd, isolated" ;;
  esac
}
for op in open exec; do
  for c in none vigild driver naive fapolicyd; do
    has_cond "$c" || continue
    for r in first same isolated; do
      [[ $c == naive && $r == same ]] && continue
      P50[$c.$r.$op]=$(rowstat "$c" "$r" "$op" 6); P99[$c.$r.$op]=$(rowstat "$c" "$r" "$op" 7); MEAN[$c.$r.$op]=$(rowstat "$c" "$r" "$op" 8)
      base=${P50[none.$r.$op]:-nan}
      add=$(awk -v a="${P50[$c.$r.$op]}" -v b="$base" 'BEGIN { if (a != "nan" && b != "nan") printf "%+.1f", a - b; else print "n/a" }')
      printf '%-5s %-26s %9s %9s %9s %11s %11s\n' "$op" "$(label "$c" "$r")" "${P50[$c.$r.$op]}" "${P99[$c.$r.$op]}" \
        "${MEAN[$c.$r.$op]}" "$(ratio "${P50[$c.$r.$op]}" "$base")" "$add"
    done
  done
done
echo "(x_none_p50 and +p50_us compare with the no-sensor row of the same kind: distinct files for first decisions, the same file for cached;"
echo " first: back to back, a new file each time; isolated: a new file each time, one every $GAP_US us, so every thread involved wakes from sleep)"

if [[ -s $MSTATS ]]; then
  echo
  echo "== the responder's own decision latency, read -> answer, us (histogram estimate, +-6%; median over reps)"
  for k in open exec driver-open driver-exec; do
    awk -F'\t' -v k="$k" '$2 == k' "$MSTATS" | grep -q . || continue
    printf '  %-12s p50 %6s  p99 %6s\n' "$k" "$(awk -F'\t' -v k="$k" '$2 == k {print $3}' "$MSTATS" | median)" \
      "$(awk -F'\t' -v k="$k" '$2 == k {print $4}' "$MSTATS" | median)"
  done
fi
if [[ -s $WORK/vigild/counters.log ]]; then
  echo "vigild answers over all runs (non-zero counters):"
  awk '{s[$1] += $2} END {for (k in s) printf "  %s %d\n", k, s[k]}' "$WORK/vigild/counters.log" | sort
fi
[[ -s $WORK/fap/last_report.txt ]] && echo "fapolicyd's report of its last run:" && sed 's/^/  /' "$WORK/fap/last_report.txt"

# ---------------------------------------------------------------- the floor
# What a first decision costs beyond the textbook responder is the sensor's
# own; the floor itself is the kernel's and the machine's.
if has_cond naive && has_cond vigild; then
  echo
  echo "== first decisions over the floor (the naive responder: read, ALLOW, close), p50 us"
  for op in open exec; do
    for r in first isolated; do
      for c in vigild driver fapolicyd; do
        has_cond "$c" || continue
        awk -v op="$op" -v r="$r" -v c="$c" -v a="${P50[$c.$r.$op]:-nan}" -v f="${P50[naive.$r.$op]:-nan}" \
          'BEGIN { if (a == "nan" || f == "nan") exit; printf "  %-4s %-8s %-9s %8.1f  floor %8.1f  over %+7.1f\n", op, r, c, a, f, a - f }'
      done
    done
  done
fi

# ---------------------------------------------------------------- targets
echo
echo "== targets"
if has_cond vigild; then
  for op in open exec; do
    r=$(ratio "${P50[vigild.same.$op]:-nan}" "${P50[none.same.$op]:-nan}")
    echo "  $(verdict "$r" 1.15)  cached $op <= 1.15x no sensor: ${r}x (p50 ${P50[vigild.same.$op]:-nan} vs ${P50[none.same.$op]:-nan} us)"
  done
  # open: the call itself; exec: what the decision adds to fork+execve+waitpid
  # (an exec with no sensor already takes longer than the target).
  for r in first isolated; do
    echo "  $(verdict "${P50[vigild.$r.open]:-nan}" 50)  first decision ($r), open: p50 <= 50 us: ${P50[vigild.$r.open]:-nan} us"
    echo "  $(verdict "${P99[vigild.$r.open]:-nan}" 500)  first decision ($r), open: p99 <= 500 us: ${P99[vigild.$r.open]:-nan} us"
    add50=$(awk -v a="${P50[vigild.$r.exec]:-nan}" -v b="${P50[none.$r.exec]:-nan}" 'BEGIN { if (a == "nan" || b == "nan") print "n/a"; else printf "%.1f", a - b }')
    add99=$(awk -v a="${P99[vigild.$r.exec]:-nan}" -v b="${P99[none.$r.exec]:-nan}" 'BEGIN { if (a == "nan" || b == "nan") print "n/a"; else printf "%.1f", a - b }')
    echo "  $(verdict "$add50" 50)  first decision ($r), exec: added p50 <= 50 us: +$add50 us (p50 ${P50[vigild.$r.exec]:-nan} vs ${P50[none.$r.exec]:-nan} with no sensor)"
    echo "  $(verdict "$add99" 500)  first decision ($r), exec: added p99 <= 500 us: +$add99 us (p99 ${P99[vigild.$r.exec]:-nan} vs ${P99[none.$r.exec]:-nan})"
  done
  if has_cond fapolicyd; then
    for op in open exec; do
      for r in first same isolated; do
        v=$(awk -v a="${P50[vigild.$r.$op]:-nan}" -v b="${P50[fapolicyd.$r.$op]:-nan}" 'BEGIN { if (a == "nan" || b == "nan") print "n/a "; else if (a + 0 < b + 0) print "PASS"; else print "FAIL" }')
        echo "  $v  below fapolicyd, $op $r: p50 ${P50[vigild.$r.$op]:-nan} vs ${P50[fapolicyd.$r.$op]:-nan} us (p99 ${P99[vigild.$r.$op]:-nan} vs ${P99[fapolicyd.$r.$op]:-nan})"
      done
    done
  fi
fi
exit 0
