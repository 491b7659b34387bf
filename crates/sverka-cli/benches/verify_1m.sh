#!/bin/sh
# The `sverka verify` benchmark of BENCHMARKS.md: a publication of about 1,000,000 real signed
# protocol submissions (250,000 stations of the 2021 election, simulated), verified in full, then
# re-verified with --state after 2,500 more entries.
#
#   crates/sverka-cli/benches/verify_1m.sh [WORKDIR]     (default /tmp/sverka-verify-1m)
#
# STATIONS=25000 makes a smaller publication (about 4 entries per station) for profiling;
# SVERKA=/path/to/sverka runs another build (e.g. a copy of an earlier commit's binary).
#
# Needs a release build (cargo build --release -p sverka-cli), about 10 GB of disk for the data
# dir, the publication and the --state file (sverka-verify-state/v4: the file itself holds the
# snapshot pieces, 22.5 MB, and the entries since the tally base, 3.7 MB per 2,500; beside it
# observer.state.tally-<hash>, the tally base, 109 MB, and observer.state.election-<hash>, the
# parsed election definition, 12 MB at 100,000 stations; 2.2 MB and 10.6 MB at 25,000
# stations), and time: on the shared 2-core machine simulate ~2 min, init ~4 min, import ~7-40 min,
# publish ~2-12 min, then the two verifies. Figures go to BENCHMARKS.md.
set -eu
repo=$(cd "$(dirname "$0")/../../.." && pwd)
sverka=${SVERKA:-"$repo/target/release/sverka"}
stations=${STATIONS:-250000}
work=${1:-/tmp/sverka-verify-1m}
mkdir -p "$work" && cd "$work"
time_v() { /usr/bin/time -v "$@" 2>&1 | grep -E "Elapsed|Maximum resident|User time|System time|timings|FAILED|OK:"; }

[ -f night/submissions.jsonl ] || "$sverka" simulate --election "$repo/examples/kyrgyzstan-2021/election.toml" \
    --seed 1 --stations "$stations" --out night
total=$(wc -l < night/submissions.jsonl)
head -n $((total - 2500)) night/submissions.jsonl > part1.jsonl
tail -n 2500 night/submissions.jsonl > part2.jsonl
rm -rf data public observer.state observer.state.tally-*
"$sverka" init data --election night/election.toml
"$sverka" import data part1.jsonl
"$sverka" publish data --out public
echo "full verify:"
time_v "$sverka" verify public --state observer.state --timings
"$sverka" import data part2.jsonl
"$sverka" publish data --out public
echo "re-verify after 2,500 new entries, with --state:"
time_v "$sverka" verify public --state observer.state --timings
