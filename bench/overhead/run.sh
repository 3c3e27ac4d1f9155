#!/bin/bash
# bench/overhead/run.sh: what vigild costs the host it watches, next to auditd
# and to no sensor at all. One run measures fixed workloads under each
# condition, several times, interleaved, and prints medians, ratios vs no
# sensor, vigild's own CPU and memory, its drop counters under a two-core
# exec storm, and PASS/FAIL against the targets. A measurement, not a test:
# exits 0 whatever the numbers (non-zero only when it cannot run at all).
# See bench/overhead/README.md. Run as root from anywhere:
#
#   bench/overhead/run.sh                 # REPS=5, everything
#   REPS=1 EXEC_N=2000 FILE_N=10000 bench/overhead/run.sh    # quick check
#
# Settings (environment):
REPS=${REPS:-5}                  # repetitions of every (workload, condition)
EXEC_N=${EXEC_N:-20000}          # exec storm: fork+execve+waitpid of /bin/true, one driver
EXEC2_N=${EXEC2_N:-10000}        # two-core exec storm: per driver, two drivers at once
FILE_N=${FILE_N:-50000}          # file storm: create+write+close+rename+unlink iterations
BUILD_FILES=${BUILD_FILES:-40}   # generated C modules (~140 lines each) in the build
MAKE_JOBS=${MAKE_JOBS:-2}        # make -jN for the build
CONDITIONS=${CONDITIONS:-"none vigild auditd fnull"}   # fnull: fanotify_null.c, a do-nothing listener
WORKLOADS=${WORKLOADS:-"exec exec2 file build"}
PIN=${PIN:-1}                    # 1: pin one-core workloads to CPU 0, the two exec2 drivers to CPUs 0 and 1
KEEP=${KEEP:-0}                  # 1: keep the temp dir (logs, alerts, raw results)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VIGILD=${VIGILD:-$REPO/build/bin/vigild}
BUNDLE=${BUNDLE:-$REPO/build/share/vigil/default.vbundle}

set -uo pipefail
export LC_ALL=C

die() { echo "overhead: $*" >&2; exit 1; }
# shellcheck source=../lib.sh
source "$HERE/../lib.sh" || die "cannot read $HERE/../lib.sh"

[[ $(id -u) == 0 ]] || die "run as root (fanotify, eBPF and auditd need it)"
for c in $CONDITIONS; do [[ $c == none || $c == vigild || $c == auditd || $c == fnull ]] || die "unknown condition $c"; done
for w in $WORKLOADS; do [[ $w == exec || $w == exec2 || $w == file || $w == build ]] || die "unknown workload $w"; done
command -v cc >/dev/null || die "cc not found (apt-get install build-essential)"
command -v make >/dev/null || die "make not found"
command -v curl >/dev/null || die "curl not found (apt-get install curl)"

# ---------------------------------------------------------------- temp dir
# On the root filesystem (vigild marks "/"; tmpfs would hide the file storm).
WORK=$(mktemp -d /var/tmp/vigil-overhead.XXXXXX) || die "mktemp failed"
RESULTS=$WORK/results.tsv   # rep cond workload wall user sys sensor_cpu
VSTATS=$WORK/vigild.tsv     # rep workload key value (metric deltas)
: >"$RESULTS"
: >"$VSTATS"

VPID=""                # running vigild
FPID=""                # running fanotify_null
AUDITD_STARTED=0       # we started auditd (so we stop it)
AUDIT_RULES_ADDED=0
AUDIT_PRIOR_ENABLED="" # kernel audit 'enabled' flag before we touched it
AUDIT_PRIOR_BACKLOG=""
AUDIT_PRIOR_RUNNING=0

stop_vigild() {
  [[ -n $VPID ]] || return 0
  kill -TERM "$VPID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$VPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$VPID" 2>/dev/null; then
    log "vigild $VPID ignored SIGTERM for 10 s: SIGKILL"
    kill -KILL "$VPID" 2>/dev/null
  fi
  wait "$VPID" 2>/dev/null
  VPID=""
}

stop_fnull() {
  [[ -n $FPID ]] || return 0
  kill -TERM "$FPID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$FPID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$FPID" 2>/dev/null
  wait "$FPID" 2>/dev/null
  FPID=""
}

start_fnull() {
  "$WORK/bin/fanotify_null" 2>>"$WORK/fanotify_null.log" &
  FPID=$!
  sleep 0.5
  kill -0 "$FPID" 2>/dev/null || { log "fanotify_null did not start:"; cat "$WORK/fanotify_null.log" >&2; FPID=""; return 1; }
}

auditd_pid() { pidof auditd 2>/dev/null | awk '{print $1}'; }

stop_auditd() {
  if [[ $AUDIT_RULES_ADDED == 1 ]]; then
    auditctl -D -k vigil_bench >/dev/null 2>&1
    AUDIT_RULES_ADDED=0
  fi
  if [[ $AUDITD_STARTED == 1 ]]; then
    local p
    p=$(auditd_pid)
    if [[ -n $p ]]; then
      kill -TERM "$p" 2>/dev/null
      for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    fi
    AUDITD_STARTED=0
  fi
  # auditd leaves the kernel's audit flag and backlog as it set them.
  [[ -n $AUDIT_PRIOR_BACKLOG ]] && auditctl -b "$AUDIT_PRIOR_BACKLOG" >/dev/null 2>&1
  [[ -n $AUDIT_PRIOR_ENABLED && $AUDIT_PRIOR_RUNNING == 0 ]] && auditctl -e "$AUDIT_PRIOR_ENABLED" >/dev/null 2>&1
  return 0
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  stop_vigild
  stop_fnull
  stop_auditd
  if [[ $KEEP == 1 ]]; then
    echo "overhead: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# ---------------------------------------------------------------- helpers
mkdir -p "$WORK/bin" "$WORK/vigild" "$WORK/audit" "$WORK/files"
for t in execstorm filestorm measure fanotify_null; do
  cc -O2 -Wall -Wextra -o "$WORK/bin/$t" "$HERE/$t.c" || die "cannot build $t.c"
done
"$HERE/genproject.sh" "$WORK/proj" "$BUILD_FILES" || die "cannot generate the build project"
MEASURE=$WORK/bin/measure

# ---------------------------------------------------------------- vigild setup
if has_cond vigild; then
  [[ -x $VIGILD ]] || die "no vigild at $VIGILD (cmake --preset release && ninja -C build -j2 vigild vigil default_content)"
  [[ -r $BUNDLE ]] || die "no default content at $BUNDLE"
  # Private copies: a rebuild of build/ during the run must not change what runs.
  cp "$VIGILD" "$WORK/bin/vigild" && cp "$BUNDLE" "$WORK/vigild/default.vbundle" || die "cannot copy vigild"
  cat >"$WORK/vigild/vigild.toml" <<EOF
# bench/overhead: default content, alerts to a file, metrics on a free loopback port.
[sources]
ebpf = true
fanotify = true
fanotify_paths = ["/"]
[content]
path = "$WORK/vigild/default.vbundle"
watch = false
[sinks]
stdout = false
[sinks.jsonl]
path = "$WORK/vigild/alerts.jsonl"
[metrics]
listen = "127.0.0.1:0"
EOF
fi
METRICS_URL=""

start_vigild() {
  local errlog=$WORK/vigild/stderr.log
  : >"$errlog"
  "$WORK/bin/vigild" --config "$WORK/vigild/vigild.toml" >>"$WORK/vigild/stdout.log" 2>"$errlog" &
  VPID=$!
  for _ in $(seq 300); do
    grep -q 'running: sources' "$errlog" && break
    kill -0 "$VPID" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q 'running: sources' "$errlog"; then
    log "vigild did not start:"; cat "$errlog" >&2
    stop_vigild
    return 1
  fi
  grep -q DEGRADED "$errlog" && log "WARNING: vigild runs DEGRADED (see its log)"
  METRICS_URL=$(grep -o 'http://[^ ]*/metrics' "$errlog" | tail -1)
  sleep 1  # let the process table seeding and the first metrics refresh finish
}

scrape() { curl -s --max-time 5 "$METRICS_URL"; }
proc_cpu() { awk '{printf "%.2f\n", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# A process and its children (vigild: the supervisor and its worker).
proc_tree() { echo "$1"; cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$'; }
tree_cpu() {
  local p sum=0
  for p in $(proc_tree "$1"); do sum=$(awk -v a="$sum" -v b="$(proc_cpu "$p")" 'BEGIN{printf "%.2f", a + b}'); done
  echo "$sum"
}
# Peak RSS of a process and its children, kB: the sum of their VmHWM.
tree_hwm() {
  local p sum=0 h
  for p in $(proc_tree "$1"); do
    h=$(awk '/^VmHWM:/{print $2}' "/proc/$p/status" 2>/dev/null)
    sum=$((sum + ${h:-0}))
  done
  echo "$sum"
}

# Waits until vigild has evaluated everything the workload caused: the
# sources read continuously, so once the workload has ended and the raw queue
# is empty (metrics refresh once a second) everything of it was evaluated. The
# host's own background activity keeps counters moving; it is counted too.
vigild_drain() {
  local cur
  for _ in $(seq 60); do
    sleep 1.1
    cur=$(scrape | grep -E '^vigil_queue_depth\{queue="raw"\}')
    [[ $cur == 'vigil_queue_depth{queue="raw"} 0' ]] && { sleep 1.1; return 0; }
  done
  log "WARNING: vigild did not drain within 66 s"
}

# ---------------------------------------------------------------- auditd setup
auditctl_field() { auditctl -s 2>/dev/null | awk -v k="$1" '$1 == k {print $2}'; }

if has_cond auditd; then
  if ! command -v auditctl >/dev/null || ! [[ -x /sbin/auditd ]]; then
    log "installing auditd (apt-get)"
    was_installed=0
    # Debian's postinst enables the service; policy-rc.d usually keeps it from starting.
    if ! apt-get install -y auditd >"$WORK/apt.log" 2>&1; then
      apt-get update >>"$WORK/apt.log" 2>&1
      apt-get install -y auditd >>"$WORK/apt.log" 2>&1 || die "cannot install auditd (see $WORK/apt.log)"
    fi
    # Never leave it enabled at boot: we installed it only to measure it.
    DPKG_MAINTSCRIPT_PACKAGE=auditd deb-systemd-helper disable auditd.service >/dev/null 2>&1
    update-rc.d auditd disable >/dev/null 2>&1
    # If the install started it, that was not the state before: stop it.
    if [[ -n $(auditd_pid) ]]; then
      kill -TERM "$(auditd_pid)"; sleep 1
      auditctl -D >/dev/null 2>&1
      auditctl -e 0 >/dev/null 2>&1
    fi
  fi
  AUDIT_PRIOR_ENABLED=$(auditctl_field enabled)
  AUDIT_PRIOR_BACKLOG=$(auditctl_field backlog_limit)
  [[ -n $(auditd_pid) ]] && AUDIT_PRIOR_RUNNING=1
  if [[ $AUDIT_PRIOR_ENABLED == 2 ]]; then
    log "audit configuration is locked (enabled 2): skipping auditd"
    CONDITIONS=$(sed 's/auditd//' <<<"$CONDITIONS")
  else
    # Once auditing has ever been enabled, the kernel gives every new task a
    # syscall-audit context until reboot (audit_ever_enabled). Set it now so
    # that every condition, in every rep, runs on the same kernel state.
    if [[ $AUDIT_PRIOR_ENABLED == 0 ]]; then
      auditctl -e 1 >/dev/null && auditctl -e 0 >/dev/null
    fi
    # Our own auditd, logging into the temp dir (Debian's auditd.conf otherwise).
    sed -e "s|^log_file *=.*|log_file = $WORK/audit/audit.log|" /etc/audit/auditd.conf >"$WORK/audit/auditd.conf"
    chmod 0640 "$WORK/audit/auditd.conf"
  fi
fi

AUDIT_RULES=(
  "-a always,exit -F arch=b64 -S execve,execveat"
  "-a always,exit -F arch=b64 -S openat -F a2&0x40"   # openat with O_CREAT
  "-a always,exit -F arch=b64 -S open -F a1&0x40"     # open with O_CREAT
  "-a always,exit -F arch=b64 -S creat,rename,renameat,renameat2,unlink,unlinkat"
)

start_auditd() {
  if [[ -z $(auditd_pid) ]]; then
    /sbin/auditd -c "$WORK/audit" || { log "auditd did not start"; return 1; }
    AUDITD_STARTED=1
    for _ in $(seq 50); do [[ -n $(auditd_pid) ]] && break; sleep 0.1; done
  fi
  # Debian's default rules (/etc/audit/rules.d/audit.rules) set an 8192 backlog.
  auditctl -b 8192 >/dev/null
  auditctl -e 1 >/dev/null
  local r
  for r in "${AUDIT_RULES[@]}"; do
    # shellcheck disable=SC2086
    auditctl $r -k vigil_bench >/dev/null || { log "auditctl $r failed"; return 1; }
  done
  AUDIT_RULES_ADDED=1
  sleep 1
}

# ---------------------------------------------------------------- workloads
# Unpinned, a lone fork+exec loop bounces between the two CPUs and pays for
# waking the idle one (no halt polling in these VMs): 1,000-3,000 execs/s from
# run to run. Pinned, it is steady (~1,700/s).
if [[ $PIN == 1 ]]; then
  command -v taskset >/dev/null || die "taskset not found (util-linux); or PIN=0"
  ON0=(taskset -c 0); ON1=(taskset -c 1)
else
  ON0=(env); ON1=(env)
fi

run_workload() {  # workload -> prints "wall user sys"
  local w=$1 out
  case $w in
    exec) out=$("$MEASURE" "${ON0[@]}" "$WORK/bin/execstorm" "$EXEC_N") ;;
    exec2) out=$("$MEASURE" bash -c '$1 "$3" "$4" & a=$!; $2 "$3" "$4" & b=$!; wait $a && wait $b' \
                   _ "${ON0[*]}" "${ON1[*]}" "$WORK/bin/execstorm" "$EXEC2_N") ;;
    file)
      rm -rf "$WORK/files/d" && mkdir "$WORK/files/d"
      out=$("$MEASURE" "${ON0[@]}" "$WORK/bin/filestorm" "$WORK/files/d" "$FILE_N")
      ;;
    build)
      make -s -C "$WORK/proj" clean >/dev/null
      sync
      out=$("$MEASURE" make -s -C "$WORK/proj" -j"$MAKE_JOBS" 2>/dev/null)
      ;;
  esac
  local rc=${out##* }
  [[ $rc == 0 ]] || log "WARNING: workload $w exited $rc"
  echo "${out% *}"
}

sensor_pid() {
  case $1 in
    vigild) echo "$VPID" ;;
    auditd) auditd_pid ;;
    fnull) echo "$FPID" ;;
    *) echo "" ;;
  esac
}

kauditd_pid() { pgrep -x kauditd | head -1; }

# Metric deltas of one vigild workload run into $VSTATS.
record_vigild_deltas() {  # rep workload before_file after_file
  awk -v rep="$1" -v w="$2" '
    /^#/ || NF != 2 { next }
    FNR == NR { before[$1] = $2; next }
    $1 ~ /^vigil_(dropped_total|source_events_total|events_total|alerts_total|events_unbuilt_total|queue_pushed_total|eval_seconds_(sum|count)|eval_seconds_bucket)/ {
      printf "%s\t%s\t%s\t%.9g\n", rep, w, $1, $2 - before[$1]
    }' "$3" "$4" >>"$VSTATS"
  # Gauges (not deltas).
  awk -v rep="$1" -v w="$2" '$1 ~ /^vigil_(resident_memory_bytes|queue_capacity)/ {printf "%s\t%s\t%s\t%s\n", rep, w, $1, $2}' "$4" >>"$VSTATS"
}

PEAK_RSS_KB=0
run_condition() {  # rep condition
  local rep=$1 cond=$2 w spid c0 c1 k0 k1 wall_user_sys
  case $cond in
    vigild) start_vigild || return 1 ;;
    auditd) start_auditd || { stop_auditd; return 1; } ;;
    fnull) start_fnull || return 1 ;;
  esac
  for w in $WORKLOADS; do
    spid=$(sensor_pid "$cond")
    c0=0; k0=0
    [[ -n $spid ]] && c0=$(tree_cpu "$spid")
    [[ $cond == auditd ]] && k0=$(proc_cpu "$(kauditd_pid)")
    [[ $cond == vigild ]] && scrape >"$WORK/m0"
    local lost0=""
    [[ $cond == auditd ]] && lost0=$(auditctl_field lost)
    wall_user_sys=$(run_workload "$w")
    if [[ $cond == vigild ]]; then
      vigild_drain
      scrape >"$WORK/m1"
      record_vigild_deltas "$rep" "$w" "$WORK/m0" "$WORK/m1"
    elif [[ $cond == auditd ]]; then
      sleep 1  # let auditd write what is queued
      printf '%s\t%s\tauditd_lost\t%s\n' "$rep" "$w" $(( $(auditctl_field lost) - lost0 )) >>"$WORK/audit.tsv"
    fi
    c1=0; k1=0
    [[ -n $spid ]] && c1=$(tree_cpu "$spid")
    [[ $cond == auditd ]] && k1=$(proc_cpu "$(kauditd_pid)")
    local scpu
    scpu=$(awk -v a="$c0" -v b="$c1" -v k0="$k0" -v k1="$k1" 'BEGIN{printf "%.2f", (b - a) + (k1 - k0)}')
    printf '%s\t%s\t%s\t%s\t%s\n' "$rep" "$cond" "$w" "$(tr ' ' '\t' <<<"$wall_user_sys")" "$scpu" >>"$RESULTS"
    log "rep $rep  $(printf '%-6s %-5s' "$cond" "$w")  wall/user/sys ${wall_user_sys}  sensor cpu ${scpu}s"
  done
  case $cond in
    vigild)
      local hwm
      hwm=$(tree_hwm "$VPID")  # supervisor + worker
      [[ -n $hwm && $hwm -gt $PEAK_RSS_KB ]] && PEAK_RSS_KB=$hwm
      cp "$WORK/m1" "$WORK/vigild/last_metrics.txt" 2>/dev/null
      stop_vigild
      ;;
    auditd) stop_auditd ;;
    fnull) stop_fnull ;;
  esac
}

# ---------------------------------------------------------------- run
echo "== vigil overhead benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(uname -r)  $(nproc) cores"
echo "load at start: $(uptime)"
echo "settings: PIN=$PIN REPS=$REPS EXEC_N=$EXEC_N EXEC2_N=2x$EXEC2_N FILE_N=$FILE_N BUILD_FILES=$BUILD_FILES MAKE_JOBS=$MAKE_JOBS"
echo "conditions: $CONDITIONS   workloads: $WORKLOADS   work dir: $WORK"
has_cond vigild && echo "vigild: $VIGILD ($(stat -c %y "$VIGILD" | cut -d. -f1)), content $BUNDLE"
has_cond auditd && echo "auditd: $(dpkg-query -W -f='${Version}' auditd 2>/dev/null); rules: execve(at); open/openat with O_CREAT; creat, rename*, unlink*"

log "warm-up (not recorded)"
( cd "$WORK/proj" && make -s -j"$MAKE_JOBS" >/dev/null 2>&1 )
"$WORK/bin/execstorm" 500
mkdir -p "$WORK/files/w" && "$WORK/bin/filestorm" "$WORK/files/w" 2000 && rm -rf "$WORK/files/w"

run_rotated
echo "load at end:   $(uptime)"

# ---------------------------------------------------------------- report
col() {  # cond workload column(4 wall, 5 user, 6 sys, 7 sensor, 0 user+sys, 8 user+sys+sensor)
  awk -F'\t' -v c="$1" -v w="$2" -v k="$3" '$2 == c && $3 == w {
      if (k == 0) print $5 + $6; else if (k == 8) print $5 + $6 + $7; else print $k }' "$RESULTS" | median 6
}
declare -A WALLR CPUR TOTR

echo
echo "== medians of $REPS runs (wall s; CPU = user+sys of the workload's processes; sensor = sensor process CPU s during the run)"
printf '%-7s %-7s %9s %15s %7s %9s %7s %9s %12s\n' workload sensor wall_s wall_min..max wall_x cpu_s cpu_x sensor_s cpu+sens_x
for w in $WORKLOADS; do
  base_wall=$(col none "$w" 4); base_cpu=$(col none "$w" 0)
  for c in none vigild auditd fnull; do
    has_cond "$c" || continue
    wall=$(col "$c" "$w" 4); cpu=$(col "$c" "$w" 0); sens=$(col "$c" "$w" 7); tot=$(col "$c" "$w" 8)
    WALLR[$c.$w]=$(ratio "$wall" "$base_wall" 3); CPUR[$c.$w]=$(ratio "$cpu" "$base_cpu" 3); TOTR[$c.$w]=$(ratio "$tot" "$base_cpu" 3)
    range=$(awk -F'\t' -v c="$c" -v w="$w" '$2 == c && $3 == w {if (n++ == 0 || $4 < lo) lo = $4; if ($4 > hi) hi = $4} END {printf "%.2f..%.2f", lo, hi}' "$RESULTS")
    printf '%-7s %-7s %9.3f %15s %7s %9.3f %7s %9.2f %12s\n' "$w" "$c" "$wall" "$range" "${WALLR[$c.$w]}" "$cpu" "${CPUR[$c.$w]}" "$sens" "${TOTR[$c.$w]}"
  done
done
echo "(exec: $EXEC_N x /bin/true on one core; exec2: two drivers x $EXEC2_N at once; file: $FILE_N x create/write/close/rename/unlink; build: make -j$MAKE_JOBS of $BUILD_FILES generated modules)"
echo "(auditd's sensor_s is auditd + the kauditd kernel thread; fnull = a do-nothing fanotify listener with vigild's flags: the floor for file events)"

vsum() {  # workload metric-regex -> sum over reps of the per-run delta
  awk -F'\t' -v w="$1" -v re="$2" '$2 == w && $3 ~ re {s += $4} END {printf "%.0f", s}' "$VSTATS"
}
vmed() {  # workload exact-metric -> median per-run delta
  awk -F'\t' -v w="$1" -v m="$2" '$2 == w && $3 == m {print $4}' "$VSTATS" | median 6
}

DROPS_TOTAL=""
if has_cond vigild && [[ -s $VSTATS ]]; then
  echo
  echo "== vigild per workload (median per run)"
  printf '%-7s %10s %10s %10s %10s %8s %12s %10s\n' workload ebpf_ev fanot_ev evaluated unbuilt alerts eval_mean_us drops_sum
  for w in $WORKLOADS; do
    eb=$(vmed "$w" 'vigil_source_events_total{source="ebpf"}')
    fa=$(vmed "$w" 'vigil_source_events_total{source="fanotify"}')
    ev=$(awk -F'\t' -v w="$w" '$2 == w && $3 ~ /^vigil_events_total/ {s[$1] += $4} END {for (r in s) print s[r]}' "$VSTATS" | median 6)
    ub=$(vmed "$w" 'vigil_events_unbuilt_total')
    al=$(vmed "$w" 'vigil_alerts_total')
    es=$(awk -F'\t' -v w="$w" '$2 == w && $3 == "vigil_eval_seconds_sum" {s += $4} $2 == w && $3 == "vigil_eval_seconds_count" {n += $4} END {if (n) printf "%.2f", s / n * 1e6; else print "n/a"}' "$VSTATS")
    dr=$(vsum "$w" '^vigil_dropped_total')
    printf '%-7s %10.0f %10.0f %10.0f %10.0f %8.0f %12s %10s\n' "$w" "$eb" "$fa" "$ev" "$ub" "$al" "$es" "$dr"
  done
  if [[ " $WORKLOADS " == *" exec2 "* ]]; then
    echo
    echo "== vigild drop counters during the two-core exec storm (sum over $REPS runs; each run = 2 x $EXEC2_N execs)"
    awk -F'\t' '$2 == "exec2" && ($3 ~ /^vigil_dropped_total/ || $3 ~ /^vigil_source_events_total/ || $3 ~ /^vigil_events_total\{type="process_(creation|termination)"/) {s[$3] += $4}
      END {for (k in s) printf "  %-62s %.0f\n", k, s[k]}' "$VSTATS" | sort
    DROPS_TOTAL=$(vsum exec2 '^vigil_dropped_total')
    execs_seen=$(vsum exec2 '^vigil_events_total\{type="process_creation"\}')
    execs_expected=$((REPS * 2 * EXEC2_N))
    echo "  process_creation events evaluated: $execs_seen (the storms alone made $execs_expected)"
  fi
  echo "vigild peak RSS (supervisor + worker VmHWM, max over runs): $((PEAK_RSS_KB / 1024)) MiB"
  [[ -f $WORK/vigild/last_metrics.txt ]] && echo "eval latency histogram at the end of the last vigild run:" &&
    grep -E '^vigil_eval_seconds_bucket' "$WORK/vigild/last_metrics.txt" | sed 's/^/  /'
fi
if has_cond auditd && [[ -s $WORK/audit.tsv ]]; then
  echo "auditd lost records (sum over runs): $(awk -F'\t' '{s += $4} END {print s + 0}' "$WORK/audit.tsv")"
fi

# ---------------------------------------------------------------- targets
echo
echo "== targets (judged on the wall-time ratio; CPU incl. sensor in brackets, for information)"
declare -A TGT=([build]=1.05 [exec]=1.10 [file]=1.25)
if has_cond vigild; then
  for w in build exec file; do
    [[ " $WORKLOADS " == *" $w "* ]] || continue
    printf '  %s  vigild <= %sx on %-5s: wall %sx  [cpu+sensor %sx %s]\n' "$(verdict "${WALLR[vigild.$w]}" "${TGT[$w]}")" \
      "${TGT[$w]}" "$w" "${WALLR[vigild.$w]}" "${TOTR[vigild.$w]}" "$(verdict "${TOTR[vigild.$w]}" "${TGT[$w]}")"
  done
  if has_cond auditd; then
    for w in $WORKLOADS; do
      v=$(awk -v a="${WALLR[vigild.$w]}" -v b="${WALLR[auditd.$w]}" 'BEGIN { if (a == "n/a" || b == "n/a") print "n/a "; else if (a + 0 < b + 0) print "PASS"; else print "FAIL" }')
      printf '  %s  vigild below auditd on %-5s: wall %sx vs %sx  [cpu+sensor %sx vs %sx]\n' "$v" "$w" \
        "${WALLR[vigild.$w]}" "${WALLR[auditd.$w]}" "${TOTR[vigild.$w]}" "${TOTR[auditd.$w]}"
    done
  fi
  if [[ -n $DROPS_TOTAL ]]; then
    v=$([[ $DROPS_TOTAL == 0 ]] && echo PASS || echo FAIL)
    echo "  $v  zero drops during the two-core exec storm: $DROPS_TOTAL dropped"
  fi
  v=$([[ $PEAK_RSS_KB -gt 0 && $PEAK_RSS_KB -le 65536 ]] && echo PASS || echo FAIL)
  echo "  $v  vigild RSS <= 64 MiB: peak $((PEAK_RSS_KB / 1024)) MiB ($PEAK_RSS_KB kB)"
fi
echo "load at end: $(uptime)"
exit 0
