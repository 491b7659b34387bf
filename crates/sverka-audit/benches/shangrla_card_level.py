#!/usr/bin/env python3
"""SHANGRLA's side of `cargo bench -p sverka-audit --bench audit` (`card_level_sample_sizes_kg2021`):
card-level comparison sample sizes (ALPHA, shrink_trunc with eta = (1 + u)/2, one-vote overstatement
rate 0.001) for all 52 assertions of the 2021 list race over its 1,281,622 ballots, timed.

SHANGRLA runs beside sverka, never copied (checkout and versions: tests/data/README.md):
    SHANGRLA_SRC=/path/to/SHANGRLA python3 shangrla_card_level.py

The counts are those of tests/data/gen_vectors.py (`kyrgyzstan_2021`), computed the same way here;
each assertion's upper bound and margin are those of its linear form (Blom et al. 2021), a dot
product over the counts, as sverka computes them. Prints each sample size, their sum, and the time
spent in SHANGRLA (`Assertion.find_sample_size`) alone.
"""
import os
import sys
import time
import warnings

sys.path.insert(0, os.environ["SHANGRLA_SRC"])
warnings.simplefilter("ignore")

from shangrla.core.Audit import Assertion, Assorter, Audit, Contest  # noqa: E402
from shangrla.core.NonnegMean import NonnegMean  # noqa: E402


def kyrgyzstan_2021():
    took_part = 1_281_622
    final = {21: 222_005, 9: 174_470, 8: 141_009, 3: 106_955, 2: 90_223, 5: 79_025}
    asu = {1: 3.48, 4: 0.62, 6: 0.62, 7: 0.95, 10: 4.01, 11: 1.54, 12: 0.41, 13: 0.44, 14: 3.21,
           15: 0.46, 16: 0.96, 17: 2.48, 18: 4.46, 19: 0.46, 20: 0.71}
    options = [final.get(b) or round(asu[b] / 100 * took_part) for b in range(1, 22)]
    against_all = round(2.17 / 100 * took_part)
    invalid = took_part - sum(options) - against_all
    seats = [0] * 21
    for b, s in {21: 15, 9: 12, 8: 9, 3: 7, 2: 6, 5: 5}.items():
        seats[b - 1] = s
    return options, against_all, invalid, seats


def linear(g, counts):
    a = -min(g)
    w = [(gk + a) / (2 * a) for gk in g]
    n = sum(counts)
    mean = sum(wk * ck for wk, ck in zip(w, counts)) / n
    return max(w), 2 * mean - 1


def assertions(options, against_all, invalid, seats, t=0.05):
    counts = options + [against_all, invalid]
    n = sum(counts)
    k = len(counts)
    passing = [p for p in range(len(options)) if options[p] >= t * n]
    house = sum(seats)
    out = []
    for p in range(len(options)):
        passes = p in passing
        g = [-t if passes else t] * k
        g[p] = 1 - t if passes else t - 1
        out.append((f"threshold:{p}", linear(g, counts)))
    for w in passing:
        if seats[w] == 0:
            continue
        for l in passing:
            if l == w:
                continue
            d = (seats[w] - 1 - seats[l]) / house
            g = [0.0] * k
            for p in passing:
                g[p] = -d
            g[w], g[l] = 1 - d, -1 - d
            out.append((f"hare:{w}>{l}", linear(g, counts)))
    leader = max(range(len(options)), key=lambda p: (options[p], -p))
    g = [0.0] * k
    g[leader], g[len(options)] = 1.0, -1.0
    out.append((f"plurality:{leader}>against_all", linear(g, counts)))
    return n, out


def main():
    n, found = assertions(*kyrgyzstan_2021())
    con = Contest.from_dict({
        "id": "kg2021", "name": "kg2021", "risk_limit": 0.05, "cards": n, "choice_function":
        Contest.SOCIAL_CHOICE_FUNCTION.PLURALITY, "n_winners": 1, "candidates": ["a", "b"],
        "winner": ["a"], "audit_type": Audit.AUDIT_TYPE.CARD_COMPARISON,
        "test": NonnegMean.alpha_mart, "estim": NonnegMean.shrink_trunc, "use_style": True})
    total, spent = 0, 0.0
    for key, (upper, margin) in found:
        uu = 2 / (2 - margin / upper)
        test = NonnegMean(test=NonnegMean.alpha_mart, estim=NonnegMean.shrink_trunc, u=uu, N=n,
                          t=0.5, eta=(1 + uu) / 2)
        asr = Assertion(contest=con, assorter=Assorter(contest=con, assort=lambda c: 0.0,
                                                       upper_bound=upper),
                        margin=margin, test=test)
        started = time.perf_counter()
        size = asr.find_sample_size(rate_1=0.001, rate_2=0.0)
        spent += time.perf_counter() - started
        total += int(size)
        print(f"{key} margin={margin:.9f} u={upper:.9f} size={int(size)}")
    print(f"assertions={len(found)} ballots={n} sum_of_sizes={total} shangrla_seconds={spent:.2f}")


if __name__ == "__main__":
    main()
