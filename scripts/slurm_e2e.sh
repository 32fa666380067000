#!/usr/bin/env bash
# End-to-end test of sharded `weaksup batch label` under a real Slurm scheduler on this machine:
# installs Debian's slurm-wlm + munge if needed, starts a one-node cluster on localhost, runs the
# documented job array (docs/batch.md, "Slurm job array") over a 40,000-row corpus, kills one array
# task mid-run and lets Slurm requeue it, merges the shards and checks that the result is byte for
# byte the output of one unsharded process. Skips (exit 0, one `SKIPPED:` line) where it cannot
# install or run daemons. usage: bash scripts/slurm_e2e.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$PATH:/usr/sbin:/sbin"
WORK="${1:-$(mktemp -d /tmp/weaksup-slurm-e2e.XXXXXX)}"
mkdir -p "$WORK" && WORK="$(cd "$WORK" && pwd)"
SHARED="${WEAKSUP_SHARED:-../shared}"
N=4 ROWS=40000 FILES=2 CHUNK=2000 KILLED=1 KILL_AFTER=2   # kill task 1 once 2 parts are recorded
T0=$EPOCHREALTIME
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "slurm e2e: $*"; }
fail() { echo "slurm e2e: FAILED: $*" >&2; exit 1; }
skip() { echo "SKIPPED: slurm e2e: $*"; exit 0; }
trap 'echo "slurm e2e: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

# --- privileges and packages -------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then SUDO=(); elif sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    skip "needs root or passwordless sudo to install and start Slurm"; fi
missing=0
for b in slurmctld slurmd sbatch munged strace; do command -v "$b" >/dev/null || missing=1; done
if [ "$missing" = 1 ]; then
    command -v apt-get >/dev/null || skip "slurm/munge/strace missing and no apt-get to install them"
    say "installing slurm-wlm, munge and strace with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    pkgs=(slurm-wlm munge strace)
    { "${SUDO[@]}" apt-get update -qq &&
      { "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" ||
        "${SUDO[@]}" apt-get install -y -qq "${pkgs[@]}"; }; } >"$WORK/apt.log" 2>&1 ||
        skip "apt-get install ${pkgs[*]} failed (no network to the Debian mirrors?), see $WORK/apt.log"
fi

# --- the weaksup binary ------------------------------------------------------------------------
if [ -n "${WEAKSUP_BIN:-}" ]; then W="$WEAKSUP_BIN"; else
    . scripts/setup.sh
    cargo build --release --quiet --bin weaksup
    W="$CARGO_TARGET_DIR/release/weaksup"
fi
[ -x "$W" ] || fail "no weaksup binary at $W"
strace -qq -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace not permitted)"

# --- a one-node cluster ------------------------------------------------------------------------
# Everything Slurm writes lives under $WORK/slurm, on its own ports, so a system Slurm (if any) is
# left alone; the cleanup stops only what this script started.
S="$WORK/slurm"
rm -rf "$S" "$WORK"/{corpus,lm,single,merged} "$WORK"/shard-*
mkdir -p "$S/state" "$S/spool"
export SLURM_CONF="$S/slurm.conf"
pids=() munge_pid="" jobid=""
cleanup() {
    set +e
    [ -n "$jobid" ] && scancel "$jobid" 2>/dev/null && sleep 2   # job steps outlive slurmd
    for p in "${pids[@]}"; do "${SUDO[@]}" kill "$p" 2>/dev/null; done
    [ -n "$munge_pid" ] && "${SUDO[@]}" kill "$munge_pid" 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT

if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
        "${SUDO[@]}" sh -c 'umask 077; dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none'
    fi
    "${SUDO[@]}" chown munge:munge /etc/munge/munge.key && "${SUDO[@]}" chmod 0400 /etc/munge/munge.key
    "${SUDO[@]}" install -d -o munge -g munge -m 0755 /run/munge
    "${SUDO[@]}" install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    # In the foreground, as this shell's child (setpriv execs it): a daemonized munged is reaped
    # by nobody in a container without an init.
    "${SUDO[@]}" setpriv --reuid=munge --regid=munge --init-groups munged -F >"$WORK/munged.log" 2>&1 &
    munge_pid=$!
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null || fail "munged did not start or its credentials do not round-trip"
fi

HOST="$(hostname -s)"
# 90% of MemTotal: slurmd drains a node that reports less memory than its RealMemory.
MEM_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
cat >"$SLURM_CONF" <<EOF
ClusterName=weaksup-e2e
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$MEM_MB State=UNKNOWN
PartitionName=e2e Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
"${SUDO[@]}" slurmctld -D -i >"$S/slurmctld.stderr" 2>&1 & pids+=($!)
"${SUDO[@]}" slurmd -D >"$S/slurmd.stderr" 2>&1 & pids+=($!)
for _ in $(seq 120); do
    [ "$(sinfo -h -n "$HOST" -o %t 2>/dev/null)" = idle ] && break; sleep 0.5
done
[ "$(sinfo -h -n "$HOST" -o %t 2>/dev/null)" = idle ] ||
    { tail -n 20 "$S"/*.log "$S"/*.stderr >&2; fail "node $HOST did not become idle"; }
say "$(sinfo -V) up: node $HOST, $(nproc) CPUs, ${MEM_MB} MB"

# --- corpus, label model, single-process reference ---------------------------------------------
[ -d "$SHARED/datasets/youtube_spam_raw" ] ||
    fail "no shared datasets at $SHARED/datasets/youtube_spam_raw (set WEAKSUP_SHARED)"
python3 scripts/bench_corpus.py "$SHARED/datasets/youtube_spam_raw" "$WORK/corpus" "$ROWS" "$FILES"
"$W" label-model fit --model mv --data "$SHARED/datasets/youtube_spam_raw/Youtube01-Psy.csv" \
    --text-col CONTENT --label-col CLASS --lfs labeling_functions/youtube_spam.toml --out "$WORK/lm" -q
LABEL=("$W" batch label --lfs "$ROOT/labeling_functions/youtube_spam.toml" --label-model "$WORK/lm"
       --input "$WORK/corpus" --text-col CONTENT --id-col COMMENT_ID --chunk-rows "$CHUNK")
t=$EPOCHREALTIME; "${LABEL[@]}" --out "$WORK/single" -q; T_SINGLE=$(since "$t")

# manifest.json facts, one per call: complete | recorded | names | parts_this_run | rows
mf() { python3 - "$1/manifest.json" "$2" <<'EOF'
import json, os, sys
p, what = sys.argv[1], sys.argv[2]
m = json.load(open(p)) if os.path.exists(p) else {"complete": False, "parts": [], "summary": None}
s = m.get("summary") or {}
print({"complete": str(m["complete"]).lower(), "recorded": len(m["parts"]),
       "names": " ".join(p["name"] for p in m["parts"]),
       "parts_this_run": s.get("parts_this_run", "-"),
       "rows": f'{s.get("parts")} parts, {s.get("rows_in")} rows in, {s.get("rows_out")} rows out'}[what])
EOF
}

# --- the job array -----------------------------------------------------------------------------
# The first attempt of task $KILLED runs under strace, which delays the end of every rename(2) by
# a second: weaksup publishes each part and each manifest update by a rename, so the task is
# certain to still be running (with parts done and parts to go) when it is killed. A real kill
# needs a real slow task; weaksup itself has no test hook for it.
{
    echo '#!/bin/bash'
    echo "#SBATCH --job-name=weaksup-e2e --array=0-$((N - 1)) --cpus-per-task=1 --time=00:10:00 --requeue"
    echo "#SBATCH --output=$S/label-%A_%a.out --open-mode=append"   # keep both attempts' logs
    echo 'set -euo pipefail; k=$SLURM_ARRAY_TASK_ID; slow=()'
    echo 'echo "task $k attempt ${SLURM_RESTART_COUNT:-0} on $(hostname -s)"'
    echo "if [ \$k = $KILLED ] && [ \"\${SLURM_RESTART_COUNT:-0}\" = 0 ]; then"
    echo '    slow=(strace -f -qq -o /dev/null -e trace=/^rename -e inject=/^rename:delay_exit=1000000); fi'
    echo "exec \"\${slow[@]}\" $(printf '%q ' "${LABEL[@]}") --out $(printf '%q' "$WORK")/shard-\$k --shard \$k/$N -q"
} >"$S/label.sbatch"
t=$EPOCHREALTIME
jobid="$(sbatch --parsable "$S/label.sbatch")"
say "submitted array job $jobid (tasks 0-$((N - 1))); outputs under $WORK"

# Kill task $KILLED once its manifest records $KILL_AFTER finished parts, then let it run again.
# requeuehold (not requeue) keeps it pending until its partial output has been looked at.
victim="${jobid}_$KILLED" out="$WORK/shard-$KILLED"
for _ in $(seq 600); do
    state="$(squeue -h -j "$victim" -o %T 2>/dev/null || true)"
    [ -n "$state" ] || fail "task $KILLED ended before it could be killed"
    [ "$state" = RUNNING ] && [ "$(mf "$out" recorded)" -ge "$KILL_AFTER" ] && break; sleep 0.2
done
[ "$(mf "$out" recorded)" -ge "$KILL_AFTER" ] || fail "task $KILLED did not get $KILL_AFTER parts done in time"
scontrol requeuehold "$victim"
for _ in $(seq 300); do [ "$(squeue -h -j "$victim" -o %T)" = PENDING ] && break; sleep 0.2; done
[ "$(squeue -h -j "$victim" -o %T)" = PENDING ] || fail "task $KILLED did not go back to pending"
P=$(mf "$out" recorded)
[ "$(mf "$out" complete)" = false ] || fail "task $KILLED was killed but its manifest says complete"
say "killed task $KILLED while running: manifest complete=false, $P parts recorded," \
    "$(ls "$out" | grep -c '^part-.*\.parquet$') part files"
# Parts recorded before the kill must survive the rerun untouched (same inode, same mtime).
recorded="$(mf "$out" names)"
snapshot() { (cd "$out" && stat -c '%n %i %y' $recorded); }
kept="$(snapshot)"
scontrol release "$victim"
# A requeued job may not start again before its BeginTime (now + a credential lifetime); start it now.
scontrol update JobId="$victim" StartTime=now 2>/dev/null || true

for _ in $(seq 1200); do [ -z "$(squeue -h -j "$jobid" 2>/dev/null)" ] && break; sleep 0.5; done
[ -z "$(squeue -h -j "$jobid")" ] || fail "array job $jobid still queued after 10 minutes"
T_ARRAY=$(since "$t")
jobid=""
for k in $(seq 0 $((N - 1))); do
    [ "$(mf "$WORK/shard-$k" complete)" = true ] ||
        { cat "$S/label-"*"_$k.out" >&2 || true; fail "shard $k is not complete"; }
done
log="$(cat "$S"/label-*_"$KILLED".out)"
[[ $log == *"attempt 0"*"attempt 1"* ]] || fail "task $KILLED did not run a second time: $log"
[ "$(snapshot)" = "$kept" ] || fail "resumed task $KILLED rewrote parts it had finished"
E=$(mf "$out" recorded)   # all of shard $KILLED's parts, now
[ "$P" -lt "$E" ] && [ "$(mf "$out" parts_this_run)" = $((E - P)) ] ||
    fail "resumed task $KILLED wrote $(mf "$out" parts_this_run) of $E parts; $P were done before the kill"
say "task $KILLED requeued and resumed: wrote the $((E - P)) missing parts, kept the $P finished ones"

# --- merge and compare with the single-process run ---------------------------------------------
"$W" batch merge --out "$WORK/merged" "$WORK"/shard-* -q
names() { (cd "$1" && ls | grep '^part-' | sort); }
[ "$(names "$WORK/single")" = "$(names "$WORK/merged")" ] ||
    fail "merged part files differ from the single run's:" \
         "$(diff <(names "$WORK/single") <(names "$WORK/merged") | tr '\n' ' ')"
for f in $(names "$WORK/single"); do cmp "$WORK/single/$f" "$WORK/merged/$f" || fail "$f differs"; done
[ "$(mf "$WORK/single" rows)" = "$(mf "$WORK/merged" rows)" ] ||
    fail "row counts differ: single $(mf "$WORK/single" rows), merged $(mf "$WORK/merged" rows)"
K=$(names "$WORK/merged" | grep -c '\.parquet$')
say "single process: $(mf "$WORK/single" rows) in ${T_SINGLE}s;" \
    "array job (with the kill and requeue): ${T_ARRAY}s; whole test: $(since "$T0")s"
echo "slurm e2e: OK ($N shards, $K parts, killed task $KILLED after $P parts," \
     "merged output byte-identical to the single-process run)"
