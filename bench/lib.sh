# bench/lib.sh: what the bench scripts (bench/overhead/run.sh,
# bench/enforce/run.sh) share. Sourced, not run. Expects CONDITIONS (a
# space-separated list) and REPS; run_rotated calls the sourcing script's
# run_condition REP COND.

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# True when condition $1 is in CONDITIONS.
has_cond() { [[ " $CONDITIONS " == *" $1 "* ]]; }

# Every condition once per rep, rep 1..REPS; the order rotates from rep to rep
# so that load drifting during a run spreads over all conditions.
run_rotated() {
  local conds rep i cond nc
  read -r -a conds <<<"$CONDITIONS"
  nc=${#conds[@]}
  for ((rep = 1; rep <= REPS; rep++)); do
    for ((i = 0; i < nc; i++)); do
      cond=${conds[$(((i + rep - 1) % nc))]}
      run_condition "$rep" "$cond" || log "rep $rep: condition $cond could not run"
    done
  done
}

# The median of the numbers on stdin, one per line ("nan" for none); an even
# count averages the middle two, printed with $1 decimals (default 2).
median() {
  sort -g | awk -v d="${1:-2}" '{a[NR] = $1} END {if (NR == 0) {print "nan"; exit} if (NR % 2) print a[(NR + 1) / 2]; else printf "%.*f\n", d, (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# $1 / $2 with $3 decimals (default 2); "n/a" when $2 is not positive or $1 is nan.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b + 0 > 0 && a != "nan") printf "%.*f", d, a / b; else print "n/a" }'; }

# PASS when $1 <= $2, FAIL when above, "n/a " when $1 is missing.
verdict() { awk -v a="$1" -v t="$2" 'BEGIN { if (a == "nan" || a == "n/a" || a == "") print "n/a "; else if (a + 0 <= t + 0) print "PASS"; else print "FAIL" }'; }
