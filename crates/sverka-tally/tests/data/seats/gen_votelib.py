#!/usr/bin/env python3
"""Generate votelib_vectors.json: seat allocations computed by votelib, an independent
implementation (Python, exact fractions), for sverka's `allocate_json` to reproduce.

    pip install votelib==0.4.0
    python3 crates/sverka-tally/tests/data/seats/gen_votelib.py > crates/sverka-tally/tests/data/seats/votelib_vectors.json

Deterministic (fixed random seed). Each case carries the exact `sverka allocate` input text
(thresholds written as decimals, never through a float) and votelib's result.

votelib components used:
- hare:          votelib.evaluate.proportional.LargestRemainder('hare')      quota V/S (exact Fraction)
- droop:         votelib.evaluate.proportional.LargestRemainder('droop')     quota floor(V/(S+1))+1
- dhondt:        votelib.evaluate.proportional.HighestAverages('d_hondt')    divisors 1, 2, 3, ...
- sainte-lague:  votelib.evaluate.proportional.HighestAverages('sainte_lague')  divisors 1, 3, 5, ...
- threshold with the default base (sum of votes): votelib.evaluate.threshold.RelativeThreshold
- threshold with an explicit base: votelib.evaluate.threshold.AbsoluteThreshold(threshold × base)

Cases left out on purpose (regenerated instead):
- any tie votelib reports (a `Tie` in its result): sverka breaks those by lot, votelib does not;
- with RelativeThreshold, a party exactly at the threshold: votelib 0.4.0 compares
  `votes == threshold` (a count against a share) for its `accept_equal`, so it drops a party
  exactly at the threshold, where the law (and sverka) keep it; AbsoluteThreshold is correct
  and its equality cases are kept (some are planted on purpose);
- Droop cases where the remainder seats outnumber the lists (very few votes): votelib then
  under-fills the house; sverka gives full rounds (documented in `seats::methods`);
- no list qualifying: votelib has nothing to evaluate.
"""

import importlib.metadata
import json
import random
import sys
from fractions import Fraction

import votelib.evaluate.core
import votelib.evaluate.proportional as proportional
import votelib.evaluate.threshold as threshold

SEED = 20211128
CASES_PER_METHOD = 100
THRESHOLDS = ["0.05", "0.03", "0.04", "0.07", "0.1", "0.025", "0.005"]

METHODS = {
    "hare": lambda: proportional.LargestRemainder("hare"),
    "droop": lambda: proportional.LargestRemainder("droop"),
    "dhondt": lambda: proportional.HighestAverages("d_hondt"),
    "sainte-lague": lambda: proportional.HighestAverages("sainte_lague"),
}


def random_votes(rng):
    n_parties = rng.randint(2, 12)
    scale = rng.choice([100, 10_000, 1_000_000, 100_000_000])
    style = rng.choice(["uniform", "skewed"])
    votes = {}
    for i in range(n_parties):
        if style == "uniform":
            v = rng.randint(1, scale)
        else:
            v = max(1, int(scale * rng.random() ** 3))
        votes[f"p{i:02d}"] = v
    return votes


def has_tie(result):
    return any(isinstance(k, votelib.evaluate.core.Tie) for k in result)


def make_case(rng, method):
    votes = random_votes(rng)
    seats = rng.choice([rng.randint(1, 12), rng.randint(1, 60), rng.randint(100, 300)])
    total = sum(votes.values())
    mode = rng.choice(["none", "none", "default-base", "explicit-base"])
    request = {"seats": seats, "method": method}
    qualified = list(votes)
    if mode != "none":
        t_text = rng.choice(THRESHOLDS)
        t = Fraction(t_text)
        if mode == "default-base":
            if any(Fraction(v, total) == t for v in votes.values()):
                return None  # votelib's RelativeThreshold equality defect, see the docstring
            qualified = threshold.RelativeThreshold(t).evaluate(votes)
        else:
            base = total + rng.randint(0, total)
            if rng.random() < 0.3:
                # plant a party exactly at the threshold (equality qualifies): a base that
                # is a multiple of the threshold's denominator, one party at t × base
                base += -base % t.denominator
                victim = rng.choice(list(votes))
                votes[victim] = int(t * base)
                total = sum(votes.values())
                if total > base or votes[victim] == 0:
                    return None
            request["threshold_base"] = base
            qualified = threshold.AbsoluteThreshold(t * base).evaluate(votes)
        request["threshold"] = t_text
    if not qualified:
        return None
    qualified_votes = {p: votes[p] for p in qualified}
    result = METHODS[method]().evaluate(qualified_votes, seats)
    if has_tie(result) or sum(result.values()) != seats:
        return None
    # Threshold text goes in verbatim: as a JSON number half the time, as a string otherwise.
    text = json.dumps({**request, "votes": votes}, sort_keys=True)
    if "threshold" in request and rng.random() < 0.5:
        text = text.replace(f'"threshold": "{request["threshold"]}"', f'"threshold": {request["threshold"]}')
    return {
        "input": text,
        "qualified": sorted(qualified),
        "seats": {p: int(result.get(p, 0)) for p in sorted(votes)},
    }


def main():
    rng = random.Random(SEED)
    cases = []
    for method in METHODS:
        made = 0
        while made < CASES_PER_METHOD:
            case = make_case(rng, method)
            if case is not None:
                cases.append(case)
                made += 1
    out = {
        "_about": "seat allocations by votelib (exact fractions) for sverka's allocate_json; see README.md",
        "_command": "python3 crates/sverka-tally/tests/data/seats/gen_votelib.py > crates/sverka-tally/tests/data/seats/votelib_vectors.json",
        "_generator_seed": SEED,
        "votelib_version": importlib.metadata.version("votelib"),
        "python_version": sys.version.split()[0],
        "cases": cases,
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
