#!/bin/sh
# The 1,000,000-station pipeline of BENCHMARKS.md (issue 10, item 4): simulate -> init -> import ->
# tabulate (`sverka results`) -> publish -> verify, each step timed with /usr/bin/time -v (wall
# time, CPU time, peak RSS), release build.
#
#   crates/sverka-cli/benches/pipeline_1m.sh [STATIONS] [WORKDIR] [STEPS]
#
# STATIONS defaults to 1000000, WORKDIR to /tmp/sverka-pipeline-1m (deleted at the end unless
# KEEP=1), STEPS to "simulate init import results publish verify" (a later step needs the earlier
# ones' files); LINES=N imports only the night's first N submissions (what fits in a session's
# time and disk; the full night's file is then deleted after the cut). Needs `cargo build
# --release -p sverka-cli` first (or SVERKA=BINARY to time another build). At 1,000,000 stations the night
# is 4.15 million signed submissions: about 5 GB of JSON Lines, and the data directory and the
# publication several times that; check `df -h` and `free -g` first. On a shared machine run it
# under `nice -n 10` and note the load (`uptime`) beside the figures. FRESH_PUBLIC=1 moves an earlier
# publication aside and deletes it only after `publish` is timed: on an ext4 without a journal,
# creating files right after deleting many scans past every recently freed inode, which inflated
# publish's figure (BENCHMARKS, "Session 12 (H3)"); it needs room for two publications at once.
set -eu
repo=$(cd "$(dirname "$0")/../../.." && pwd)
sverka="${SVERKA:-$repo/target/release/sverka}"
stations=${1:-1000000}
work=${2:-/tmp/sverka-pipeline-1m}
steps=${3:-simulate init import results publish verify}
mkdir -p "$work" && cd "$work"
echo "$stations stations in $work; $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); $(uptime)"

step() {
    name=$1
    shift
    case " $steps " in *" $name "*) ;; *) return 0 ;; esac
    /usr/bin/time -v "$@" > "$name.out" 2> "$name.time" || { echo "$name failed:"; tail -20 "$name.time"; exit 1; }
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$name.time")
    user=$(sed -n 's/.*User time (seconds): //p' "$name.time")
    sys=$(sed -n 's/.*System time (seconds): //p' "$name.time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$name.time")
    printf '%-9s wall %-9s cpu %6.1f s  peak RSS %5d MiB  (load %s)\n' "$name" "$wall" \
        "$(echo "$user + $sys" | bc)" "$((rss / 1024))" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

case " $steps " in *" simulate "*) rm -rf night ;; esac
step simulate "$sverka" simulate --election "$repo/examples/kyrgyzstan-2021/election.toml" \
    --seed 1 --stations "$stations" --out night
case " $steps " in *" init "*) rm -rf data ;; esac
step init "$sverka" init data --election night/election.toml
night=night/submissions.jsonl
if [ -n "${LINES:-}" ] && [ -f "$night" ]; then
    head -n "$LINES" "$night" > night/first.jsonl && rm "$night"
fi
[ -z "${LINES:-}" ] || night=night/first.jsonl
step import "$sverka" import data "$night"
step results "$sverka" results data
aside=""
case " $steps " in *" publish "*)
    if [ "${FRESH_PUBLIC:-0}" = 1 ] && [ -e public ]; then
        aside="public.old.$$" && mv public "$aside"
    else
        rm -rf public
    fi ;;
esac
step publish "$sverka" publish data --out public
[ -z "$aside" ] || rm -rf "$aside"
step verify "$sverka" verify public --timings

[ "${KEEP:-0}" = 1 ] || { cd / && rm -rf "$work"; }
