#!/bin/sh
# The `sverka verify` benchmark of BENCHMARKS.md: a publication of about 1,000,000 real signed
# protocol submissions (250,000 stations of the 2021 election, simulated), verified in full, then
# re-verified with --state after 2,500 more entries.
#
#   crates/sverka-cli/benches/verify_1m.sh [WORKDIR]     (default /tmp/sverka-verify-1m)
#
# Needs a release build (cargo build --release -p sverka-cli), about 10 GB of disk for the data
# dir, the publication and the 470 MB --state file, and time: on the shared 2-core machine
# simulate ~1.5 min, init ~3.5 min, import ~14 min, publish ~12 min (peak RSS 2.6 GB), the full
# verify ~7.5 min (3.1 GB), the resumed re-verify ~1 min (3.4 GB). Figures go to BENCHMARKS.md.
set -eu
repo=$(cd "$(dirname "$0")/../../.." && pwd)
sverka="$repo/target/release/sverka"
work=${1:-/tmp/sverka-verify-1m}
mkdir -p "$work" && cd "$work"
time_v() { /usr/bin/time -v "$@" 2>&1 | grep -E "Elapsed|Maximum resident|User time|System time|timings|FAILED|OK:"; }

[ -f night/submissions.jsonl ] || "$sverka" simulate --election "$repo/examples/kyrgyzstan-2021/election.toml" \
    --seed 1 --stations 250000 --out night
total=$(wc -l < night/submissions.jsonl)
head -n $((total - 2500)) night/submissions.jsonl > part1.jsonl
tail -n 2500 night/submissions.jsonl > part2.jsonl
rm -rf data public observer.json
"$sverka" init data --election night/election.toml
"$sverka" import data part1.jsonl
"$sverka" publish data --out public
echo "full verify:"
time_v "$sverka" verify public --state observer.json --timings
"$sverka" import data part2.jsonl
"$sverka" publish data --out public
echo "re-verify after 2,500 new entries, with --state:"
time_v "$sverka" verify public --state observer.json --timings
