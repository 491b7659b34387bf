#!/usr/bin/env bash
# The PostgreSQL figures of BENCHMARKS.md (issue 9), on a throwaway PostgreSQL cluster this script
# starts (initdb into WORKDIR/pg, unix socket only) and removes at exit:
#
# 1. ingest on one node, SQLite vs PostgreSQL, same run: `sverka import` of the simulated 2021
#    night (the store alone), then `sverka loadtest` against one `sverka serve` (HTTP, every
#    scanner sending its protocols one at a time);
# 2. failover: three `sverka serve` nodes on one database while a client sends a night in order,
#    one protocol at a time, each to a node picked at random; the sequencer (the node named in the
#    lease row `sequencer.holder`) is killed with SIGKILL SVERKA_BENCH_KILLS times (default 12),
#    and each time the script measures how long until another node holds the lease and until
#    the next checkpoint is signed (a new row in `signed_checkpoints`), then restarts the node.
#
#   crates/sverka-cli/benches/postgres.sh [WORKDIR]     (default /tmp/sverka-bench-pg)
#
# Needs a release build (cargo build --release -p sverka-cli), PostgreSQL's server programs
# (Debian: postgresql), psql and curl. Run as root it runs the cluster as the postgres user.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
sverka="$repo/target/release/sverka"
work=${1:-/tmp/sverka-bench-pg}
kills=${SVERKA_BENCH_KILLS:-12}
rm -rf "$work" && mkdir -p "$work/pg" && cd "$work"

pg_bin="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")"
pg_run=()
if [ "$(id -u)" = 0 ]; then chown postgres "$work/pg"; pg_run=(runuser -u postgres --); fi
"${pg_run[@]}" "$pg_bin/initdb" -D "$work/pg/data" -A trust -U sverka >/dev/null
"${pg_run[@]}" "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-k $work/pg -c listen_addresses='' -c max_connections=300" start >/dev/null
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  "${pg_run[@]}" "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
server="postgresql://sverka@${work//\//%2F}%2Fpg"
database() { psql -XAtq "$server/postgres" -c "CREATE DATABASE $1" && echo "$server/$1"; }
now() { date +%s.%N; }
wait_ready() {
  for _ in $(seq 600); do
    curl -sf "$1/readyz" >/dev/null && return 0
    sleep 0.05
  done
  echo "$1 not ready" >&2
  return 1
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "postgresql: $("$pg_bin/postgres" --version)"
"$sverka" simulate --election "$repo/examples/kyrgyzstan-2021/election.toml" --seed 1 \
  --out night >/dev/null
lines=$(wc -l < night/submissions.jsonl)

echo "== 1. ingest on one node: the 2021 night ($lines submissions)"
for backend in sqlite postgres; do
  flags=()
  [ "$backend" = postgres ] && flags=(--database "$(database "import_$$")")
  "$sverka" init "import-$backend" --election night/election.toml "${flags[@]}" >/dev/null
  start=$(now)
  "$sverka" import "import-$backend" night/submissions.jsonl >/dev/null
  seconds=$(echo "$(now) - $start" | bc -l)
  printf "import %-9s %6.2f s  %7.0f submissions/s  (load %s)\n" "$backend" "$seconds" \
    "$(echo "$lines / $seconds" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
done
for backend in sqlite postgres; do
  flags=()
  [ "$backend" = postgres ] && flags=(--database "$(database "http_$$")")
  "$sverka" init "http-$backend" --election night/election.toml "${flags[@]}" >/dev/null
  "$sverka" serve "http-$backend" --listen 127.0.0.1:18180 --rate-per-ip off --rate-per-key off \
    2>"http-$backend.log" &
  pids+=($!)
  wait_ready http://127.0.0.1:18180
  echo "loadtest $backend (load $(cut -d' ' -f1 /proc/loadavg)):"
  "$sverka" loadtest http://127.0.0.1:18180 --night night --scanners 100000 --window 20 \
    2>&1 | sed 's/^/  /'
  kill -TERM "${pids[-1]}" && wait "${pids[-1]}" || true
  unset 'pids[-1]'
done

echo "== 2. failover: 3 nodes, SIGKILL of the sequencer $kills times"
url=$(database "failover_$$")
"$sverka" simulate --election "$repo/examples/kyrgyzstan-2021/election.toml" --seed 2 \
  --stations 6000 --out feed >/dev/null
"$sverka" init node-0 --election feed/election.toml --database "$url" >/dev/null
node_pid=()
start_node() {
  local i=$1
  if [ ! -d "node-$i" ]; then mkdir "node-$i" && cp -r node-0/database node-0/keys "node-$i/"; fi
  "$sverka" serve "node-$i" --listen "127.0.0.1:1819$i" --rate-per-ip off --rate-per-key off \
    2>>"node-$i.log" &
  node_pid[$i]=$!
  pids+=($!)
}
for i in 0 1 2; do start_node "$i"; done
for i in 0 1 2; do wait_ready "http://127.0.0.1:1819$i"; done
# The client: the night in order, one protocol at a time, each to a random node; again on failure.
(
  while IFS= read -r line; do
    for _ in $(seq 100); do
      code=$(printf '%s' "$line" | curl -s -o /dev/null -w '%{http_code}' --max-time 40 \
        --data-binary @- "http://127.0.0.1:1819$((RANDOM % 3))/api/v1/submissions" || true)
      case "$code" in 200|201|4[0-9][0-9]) [ "$code" != 429 ] && break ;; esac
      sleep 0.05
    done
  done < feed/submissions.jsonl
) &
feeder=$!
pids+=($feeder)
holder() { psql -XAtq "$url" -c "SELECT split_part(holder, ':', 2) FROM sequencer"; }
signed() { psql -XAtq "$url" -c "SELECT COALESCE(MAX(size), 0) FROM signed_checkpoints"; }
results=()
leases=()
for k in $(seq "$kills"); do
  sleep 3
  kill -0 "$feeder" 2>/dev/null || { echo "the client finished before kill $k"; break; }
  pid=$(holder)
  victim=""
  for i in 0 1 2; do [ "${node_pid[$i]}" = "$pid" ] && victim=$i; done
  [ -n "$victim" ] || { echo "the lease holder $pid is not one of the nodes"; exit 1; }
  t0=$(now)
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  before=$(signed)
  lease=""
  deadline=$(echo "$t0 + 60" | bc -l)
  while :; do
    if [ "$(echo "$(now) > $deadline" | bc -l)" = 1 ]; then
      echo "kill $k: no checkpoint signed within 60 s"; exit 1
    fi
    [ -z "$lease" ] && [ "$(holder)" != "$pid" ] && lease=$(echo "$(now) - $t0" | bc -l)
    [ "$(signed)" -gt "$before" ] && break
    sleep 0.02
  done
  sign=$(echo "$(now) - $t0" | bc -l)
  [ -z "$lease" ] && lease=$sign
  printf "kill %2d: node %s (pid %s) at checkpoint %s; lease taken after %.2f s, next checkpoint signed after %.2f s (load %s)\n" \
    "$k" "$victim" "$pid" "$before" "$lease" "$sign" "$(cut -d' ' -f1 /proc/loadavg)"
  results+=("$sign")
  leases+=("$lease")
  start_node "$victim"
  wait_ready "http://127.0.0.1:1819$victim"
done
# The median (the mean of the two middle values when the count is even) and the maximum.
summary() {
  local sorted count low high
  sorted=$(printf '%s\n' "$@" | sort -g)
  count=$#
  low=$(echo "$sorted" | sed -n "$(( (count + 1) / 2 ))p")
  high=$(echo "$sorted" | sed -n "$(( count / 2 + 1 ))p")
  printf "median %.2f s, max %.2f s" "$(echo "($low + $high) / 2" | bc -l)" "$(echo "$sorted" | tail -1)"
}
echo "over ${#results[@]} kills: lease taken: $(summary "${leases[@]}"); next checkpoint signed: $(summary "${results[@]}")"
