#!/usr/bin/env python3
"""Reference vectors for sverka-audit, computed by SHANGRLA and cryptorandom (run beside sverka, not copied).

Usage (see README.md in this folder for the exact versions):
    SHANGRLA_SRC=/path/to/SHANGRLA-checkout python3 gen_vectors.py > shangrla_vectors.json

SHANGRLA is not on PyPI; SHANGRLA_SRC is a checkout of github.com/pbstark/SHANGRLA put on sys.path.
cryptorandom comes from PyPI. Nothing here imports or runs sverka: the Rust tests read the JSON and compare.

What is SHANGRLA's and what is ours:
- threshold-pass assorters: SHANGRLA's own `Assertion.make_supermajority_assertion` (share_to_win = t,
  every ballot one "candidate", so invalid and "against all" ballots are in the base);
- plurality assorters: SHANGRLA's `Assertion.make_plurality_assertions` ("against all" a candidate);
- threshold-fail, Hamilton and divisor assorters: written here from Blom et al. (E-Vote-ID 2021) as
  linear assertions sum g(b) > 0 mapped to (g + a)/(2a), then evaluated by SHANGRLA's `Assorter.mean`
  over one CVR object per ballot;
- ALPHA p-values, Kaplan-Markov, overstatement assorters, sample sizes: SHANGRLA's `NonnegMean` and
  `Assertion` methods;
- sampler streams: cryptorandom's `SHA256`, `sample_by_index`, and SHANGRLA's `CVR.assign_sample_nums`.
"""
import json
import math
import os
import struct
import sys
import warnings

sys.path.insert(0, os.environ["SHANGRLA_SRC"])
warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
import cryptorandom  # noqa: E402
from cryptorandom.cryptorandom import SHA256, int_from_hash  # noqa: E402
from cryptorandom.sample import sample_by_index  # noqa: E402
from shangrla.core.Audit import Assertion, Assorter, Audit, Contest, CVR  # noqa: E402
from shangrla.core.NonnegMean import NonnegMean  # noqa: E402

CID = "c"


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def kind_names(n_options):
    return [f"o{i}" for i in range(n_options)] + ["against_all", "invalid"]


def make_cvrs(counts, names):
    """One CVR object per kind, repeated: every ballot votes for exactly one 'candidate'."""
    proto = [CVR(id=k, votes={CID: {k: 1}}) for k in names]
    out = []
    for cvr, n in zip(proto, counts):
        out.extend([cvr] * n)
    return out


def contest_obj(names, n_cards, audit_type=Audit.AUDIT_TYPE.POLLING, share=None):
    return Contest(id=CID, name=CID, risk_limit=0.05, cards=n_cards,
                   choice_function=(Contest.SOCIAL_CHOICE_FUNCTION.SUPERMAJORITY if share
                                    else Contest.SOCIAL_CHOICE_FUNCTION.PLURALITY),
                   share_to_win=share, candidates=names, winner=[names[0]],
                   audit_type=audit_type, test=NonnegMean.alpha_mart,
                   estim=NonnegMean.shrink_trunc, use_style=True)


def linear_assorter(con, names, g):
    a = -min(g)
    w = {k: (gk + a) / (2 * a) for k, gk in zip(names, g)}
    return Assorter(contest=con, assort=lambda c, w=w: sum(w[k] for k in c.votes[CID]),
                    upper_bound=max(w.values()))


def list_contest(name, options, against_all, invalid, seats, method, threshold):
    names = kind_names(len(options))
    counts = options + [against_all, invalid]
    n = sum(counts)
    cvrs = make_cvrs(counts, names)
    passing = [p for p in range(len(options)) if options[p] >= threshold * n]
    house = sum(seats)
    out = []

    def record(key, assorter):
        mean = assorter.mean(cvrs)
        out.append({"contest": name, "key": key, "upper_bound": assorter.upper_bound,
                    "mean": float(mean), "margin": float(2 * mean - 1)})

    for p in range(len(options)):
        con = contest_obj(names, n, share=threshold)
        if p in passing:
            others = [k for k in names if k != names[p]]
            a = Assertion.make_supermajority_assertion(contest=con, share_to_win=threshold,
                                                       winner=names[p], loser=others)
            record(f"threshold_pass:{p}", next(iter(a.values())).assorter)
        else:
            g = [threshold] * len(names)
            g[p] = threshold - 1
            record(f"threshold_fail:{p}", linear_assorter(con, names, g))
    for w in passing:
        if seats[w] == 0:
            continue
        for l in passing:
            if l == w:
                continue
            g = [0.0] * len(names)
            if method == "hare":
                d = (seats[w] - 1 - seats[l]) / house
                for p in passing:
                    g[p] = -d
                g[w], g[l] = 1 - d, -1 - d
                key = f"hare:{w}>{l}"
            else:
                div = (lambda k: k) if method == "dhondt" else (lambda k: 2 * k - 1)
                g[w], g[l] = div(seats[l] + 1), -div(seats[w])
                key = f"{method}:{w}>{l}"
            record(key, linear_assorter(contest_obj(names, n), names, g))
    leader = max(range(len(options)), key=lambda p: (options[p], -p))
    con = contest_obj(names, n)
    a = Assertion.make_plurality_assertions(contest=con, winner=[names[leader]], loser=["against_all"])
    record(f"plurality:o{leader}>against_all", next(iter(a.values())).assorter)
    return {"options": options, "against_all": against_all, "invalid": invalid, "seats": seats,
            "method": method, "threshold": threshold}, out


def district(name, options, against_all, invalid):
    names = kind_names(len(options))
    counts = options + [against_all, invalid]
    n = sum(counts)
    cvrs = make_cvrs(counts, names)
    winner = names[max(range(len(names) - 1), key=lambda k: counts[k])]
    con = contest_obj(names, n)
    losers = [k for k in names[:-1] if k != winner]
    out = []
    for key, a in Assertion.make_plurality_assertions(contest=con, winner=[winner], loser=losers).items():
        mean = a.assorter.mean(cvrs)
        w, l = key.split(" v ")
        out.append({"contest": name, "key": f"plurality:{w}>{l}", "upper_bound": a.assorter.upper_bound,
                    "mean": float(mean), "margin": float(2 * mean - 1)})
    return {"options": options, "against_all": against_all, "invalid": invalid, "winner": winner}, out


def hare(options, n, house, threshold):
    passing = [p for p in range(len(options)) if options[p] >= threshold * n]
    v = sum(options[p] for p in passing)
    seats = [0] * len(options)
    rem = []
    for p in passing:
        seats[p] = options[p] * house // v
        rem.append(((options[p] * house) % v, -p))
    for r, mp in sorted(rem, reverse=True)[: house - sum(seats)]:
        seats[-mp] += 1
    return seats


def divisor(options, n, house, threshold, div):
    passing = [p for p in range(len(options)) if options[p] >= threshold * n]
    seats = [0] * len(options)
    for _ in range(house):
        best = max(passing, key=lambda p: (options[p] / div(seats[p] + 1), -p))
        seats[best] += 1
    return seats


def kyrgyzstan_2021():
    """CEC final totals of the six passing lists (15 Dec 2021); the other lists and 'against all' are
    illustrative (ASU election-night shares times took part), the rest of took part is 'invalid'."""
    took_part = 1_281_622
    final = {21: 222_005, 9: 174_470, 8: 141_009, 3: 106_955, 2: 90_223, 5: 79_025}
    asu = {1: 3.48, 4: 0.62, 6: 0.62, 7: 0.95, 10: 4.01, 11: 1.54, 12: 0.41, 13: 0.44, 14: 3.21,
           15: 0.46, 16: 0.96, 17: 2.48, 18: 4.46, 19: 0.46, 20: 0.71}
    options = [final.get(b) or round(asu[b] / 100 * took_part) for b in range(1, 22)]
    against_all = round(2.17 / 100 * took_part)
    invalid = took_part - sum(options) - against_all
    seats = hare(options, took_part, 54, 0.05)
    assert [seats[b - 1] for b in (21, 9, 8, 3, 2, 5)] == [15, 12, 9, 7, 6, 5]
    return options, against_all, invalid, seats


def alpha_case(name, x, u, N, t, estim, params):
    kw = dict(params)
    test = NonnegMean(test=NonnegMean.alpha_mart,
                      estim=NonnegMean.shrink_trunc if estim == "shrink_trunc" else NonnegMean.fixed_alternative_mean,
                      u=u, N=N, t=t, **kw)
    p, hist = test.test(np.array(x, dtype=float))
    return {"name": name, "u": u, "N": None if math.isinf(N) else N, "t": t, "estimator": estim,
            "params": params, "x": [float(v) for v in x], "p": float(p), "history": [float(h) for h in hist]}


def sampler_streams():
    streams = []
    for seed in ["12345678901234567890", "5", "20211128", "314159265358979323846264338327950288"]:
        s = {"seed": seed}
        r = SHA256(int(seed))
        s["hashes"] = [r.nextRandom().hex() for _ in range(8)]
        r = SHA256(int(seed))
        s["random_bits"] = [bits(r.random()) for _ in range(8)]
        r = SHA256(int(seed))
        s["randint_trunc_1_1001"] = [int(v) for v in r.randint_trunc(1, 1001, size=8)]
        r = SHA256(int(seed))
        s["randint_1_1001"] = [int(r.randint(1, 1001)) for _ in range(8)]
        r = SHA256(int(seed))
        ks = [1, 7, 10, 20, 30, 53, 64, 64, 64, 3, 64, 61]
        s["getrandbits"] = {"ks": ks, "values": [str(r.getrandbits(k)) for k in ks]}
        s["sample_wo_1500000_40"] = [int(v) for v in sample_by_index(1_500_000, 40, replace=False, prng=SHA256(int(seed)))]
        s["sample_w_1500000_40"] = [int(v) for v in sample_by_index(1_500_000, 40, replace=True, prng=SHA256(int(seed)))]
        s["sample_wo_10_10"] = [int(v) for v in sample_by_index(10, 10, replace=False, prng=SHA256(int(seed)))]
        cvrs = [CVR(id=str(i), votes={CID: {}}) for i in range(6)]
        CVR.assign_sample_nums(cvrs, SHA256(int(seed)))
        s["sample_nums"] = [format(c.sample_num, "064x") for c in cvrs]
        streams.append(s)
    return streams


def main():
    contests, assertions = {}, []
    options, aa, inv, seats = kyrgyzstan_2021()
    c, a = list_contest("kg2021", options, aa, inv, seats, "hare", 0.05)
    contests["kg2021"] = c
    assertions += a
    syn = [9_100, 7_300, 2_600, 1_950, 480, 230]
    n_syn = sum(syn) + 900 + 1_200
    for method, div in [("dhondt", lambda k: k), ("sainte-lague", lambda k: 2 * k - 1)]:
        s = divisor(syn, n_syn, 11, 0.03, div)
        c, a = list_contest(f"syn-{method}", syn, 900, 1_200, s, method, 0.03)
        contests[f"syn-{method}"] = c
        assertions += a
    c, a = district("district", [11_200, 9_850, 3_100, 770], 1_450, 600)
    contests["district"] = c
    assertions += a

    rng = np.random.default_rng(20211128)
    alpha = []
    n_kg = sum(options) + aa + inv
    ata = options[20]
    u_thr = 1 / (2 * 0.05)
    mean_thr = ata / n_kg * u_thr
    x = rng.choice([0.0, u_thr], size=400, p=[1 - ata / n_kg, ata / n_kg])
    alpha.append(alpha_case("kg-threshold-ata-jurt-polling-shrink", x, u_thr, n_kg, 0.5, "shrink_trunc", {"eta": mean_thr}))
    alpha.append(alpha_case("kg-threshold-ata-jurt-polling-fixed", x, u_thr, n_kg, 0.5, "fixed", {"eta": mean_thr}))
    yim = options[4]
    x = rng.choice([0.0, u_thr], size=3000, p=[1 - yim / n_kg, yim / n_kg])
    alpha.append(alpha_case("kg-threshold-yiman-nuru-polling-shrink", x, u_thr, n_kg, 0.5, "shrink_trunc", {"eta": yim / n_kg * u_thr}))
    # Hamilton assertion values (four-valued assorter): Butun (ballot 2) 6 seats over Yiman Nuru (5) 5 seats
    hk = next(r for r in assertions if r["contest"] == "kg2021" and r["key"] == "hare:1>4")
    d = (6 - 1 - 5) / 54
    a_lb = 1 + d  # -min g
    av = {"w": (1 - d + a_lb) / (2 * a_lb), "l": 0.0, "p": (-d + a_lb) / (2 * a_lb), "o": 0.5}
    passing_votes = sum(options[p] for p in range(21) if options[p] >= 0.05 * n_kg)
    probs = np.array([options[1], options[4], passing_votes - options[1] - options[4], n_kg - passing_votes]) / n_kg
    x = rng.choice([av["w"], av["l"], av["p"], av["o"]], size=2000, p=probs)
    alpha.append(alpha_case("kg-hare-butun-over-yiman-polling-shrink", x, hk["upper_bound"], n_kg, 0.5, "shrink_trunc", {"eta": hk["mean"]}))
    alpha.append(alpha_case("kg-hare-butun-over-yiman-polling-shrink-f", x, hk["upper_bound"], n_kg, 0.5, "shrink_trunc", {"eta": hk["mean"], "d": 50, "f": 0.1, "c": 0.01, "minsd": 1e-4}))
    for i, (n, m) in enumerate([(30_000, 0.56), (10_000, 0.52), (500, 0.7)]):
        x = rng.choice([0.0, 0.5, 1.0], size=min(n, 250), p=[(1 - m) * 0.9, 0.1, m * 0.9])
        alpha.append(alpha_case(f"plurality-polling-shrink-{i}", x, 1.0, n, 0.5, "shrink_trunc", {"eta": m}))
        alpha.append(alpha_case(f"plurality-polling-fixed-{i}", x, 1.0, n, 0.5, "fixed", {"eta": m}))
        alpha.append(alpha_case(f"plurality-polling-with-replacement-{i}", x, 1.0, math.inf, 0.5, "shrink_trunc", {"eta": m}))

    # ballot-level comparison: SHANGRLA's overstatement assorter on (cvr, mvr) pairs of the district contest
    dnames = kind_names(4)
    dcon = contest_obj(dnames, sum([11_200, 9_850, 3_100, 770, 1_450, 600]), audit_type=Audit.AUDIT_TYPE.CARD_COMPARISON)
    pa = Assertion.make_plurality_assertions(contest=dcon, winner=["o0"], loser=["o1"])["o0 v o1"]
    drec = next(r for r in assertions if r["contest"] == "district" and r["key"] == "plurality:o0>o1")
    pa.margin = drec["margin"]
    pairs = []
    for _ in range(300):
        cv = dnames[rng.choice(6, p=np.array([11_200, 9_850, 3_100, 770, 1_450, 600]) / 26_970)]
        mv = cv if rng.random() > 0.03 else dnames[rng.integers(0, 6)]
        pairs.append((cv, mv))
    ov = [float(pa.overstatement_assorter(CVR(votes={CID: {m: 1}}), CVR(votes={CID: {c: 1}}))) for c, m in pairs]
    u_cmp = 2 / (2 - pa.margin / pa.assorter.upper_bound)
    comparison = {"contest": "district", "key": "plurality:o0>o1", "pairs": pairs, "values": ov, "u": u_cmp}
    alpha.append(alpha_case("district-ballot-comparison-shrink", ov, u_cmp, 26_970, 0.5, "shrink_trunc", {"eta": (1 + u_cmp) / 2}))
    alpha.append(alpha_case("district-ballot-comparison-fixed", ov, u_cmp, 26_970, 0.5, "fixed", {"eta": 0.95 * u_cmp}))

    # batch-level comparison (stations, PPS with replacement): values (1 - o/u)/(2 - v/u), o per ballot
    ta = Assertion(contest=dcon, assorter=pa.assorter, margin=drec["margin"])
    omegas = [0.0] * 60 + list(rng.uniform(-0.02, 0.03, size=20))
    rng.shuffle(omegas)
    batch_x = [float(ta.make_overstatement(o)) for o in omegas]
    batch = {"omegas": [float(o) for o in omegas], "values": batch_x, "u": u_cmp, "margin": drec["margin"]}
    alpha.append(alpha_case("district-batch-comparison-with-replacement", batch_x, u_cmp, math.inf, 0.5, "shrink_trunc", {"eta": (1 + u_cmp) / 2}))

    km = []
    for i, g in enumerate([0.0, 0.1]):
        xx = [v for v in batch_x]
        test = NonnegMean(test=NonnegMean.kaplan_markov, u=u_cmp, N=math.inf, t=0.5, g=g)
        p, hist = test.test(np.array(xx))
        km.append({"name": f"kaplan-markov-{i}", "t": 0.5, "g": g, "x": xx, "p": float(p), "history": [float(h) for h in hist]})

    sizes = []
    for key, p in [("threshold_pass:20", 20), ("threshold_pass:4", 4), ("threshold_pass:1", 1)]:
        rec = next(r for r in assertions if r["contest"] == "kg2021" and r["key"] == key)
        n_big = options[p]
        for estim, params in [("shrink_trunc", {"eta": rec["mean"]}), ("fixed", {"eta": rec["mean"]})]:
            test = NonnegMean(test=NonnegMean.alpha_mart,
                              estim=NonnegMean.shrink_trunc if estim == "shrink_trunc" else NonnegMean.fixed_alternative_mean,
                              u=rec["upper_bound"], N=n_kg, t=0.5, **params)
            xs = Assertion.interleave_values(n_kg - n_big, 0, n_big, big=rec["upper_bound"])
            size = test.sample_size(xs, alpha=0.05)
            sizes.append({"kind": "polling", "name": f"kg {key} {estim}", "u": rec["upper_bound"], "N": n_kg,
                          "n_zero": n_kg - n_big, "n_half": 0, "n_big": n_big, "estimator": estim,
                          "params": params, "alpha": 0.05, "size": int(size)})
    dc = contests["district"]
    for loser in [1, 2]:
        n_d = sum(dc["options"]) + dc["against_all"] + dc["invalid"]
        n0, nb = dc["options"][loser], dc["options"][0]
        test = NonnegMean(test=NonnegMean.alpha_mart, estim=NonnegMean.shrink_trunc, u=1.0, N=n_d, t=0.5, eta=nb / n_d + 0.5 * (n_d - n0 - nb) / n_d)
        size = test.sample_size(Assertion.interleave_values(n0, n_d - n0 - nb, nb), alpha=0.05)
        sizes.append({"kind": "polling", "name": f"district o0>o{loser} shrink", "u": 1.0, "N": n_d, "n_zero": n0,
                      "n_half": n_d - n0 - nb, "n_big": nb, "estimator": "shrink_trunc",
                      "params": {"eta": nb / n_d + 0.5 * (n_d - n0 - nb) / n_d}, "alpha": 0.05, "size": int(size)})
    for key in ["threshold_pass:20", "threshold_pass:4", "hare:1>4", "hare:20>8", "plurality:o20>against_all"]:
        rec = next(r for r in assertions if r["contest"] == "kg2021" and r["key"] == key)
        for rate_1, rate_2 in [(0.0, 0.0), (0.001, 0.0), (0.002, 0.0005)]:
            con = contest_obj(kind_names(21), n_kg, audit_type=Audit.AUDIT_TYPE.CARD_COMPARISON)
            uu = 2 / (2 - rec["margin"] / rec["upper_bound"])
            params = {"eta": (1 + uu) / 2 if rate_1 == 0 else 0.5 * (0.5 + uu) + 0.25}
            params["eta"] = min(params["eta"], uu * 0.99)
            test = NonnegMean(test=NonnegMean.alpha_mart, estim=NonnegMean.shrink_trunc, u=uu, N=n_kg, t=0.5, **params)
            asr = Assertion(contest=con, assorter=Assorter(contest=con, assort=lambda c: 0.0, upper_bound=rec["upper_bound"]),
                            margin=rec["margin"], test=test)
            size = asr.find_sample_size(rate_1=rate_1, rate_2=rate_2)
            sizes.append({"kind": "comparison", "name": f"kg {key} r1={rate_1} r2={rate_2}", "assorter_u": rec["upper_bound"],
                          "margin": rec["margin"], "N": n_kg, "rate_1": rate_1, "rate_2": rate_2,
                          "estimator": "shrink_trunc", "params": params, "alpha": 0.05, "size": int(size)})

    out = {
        "provenance": {
            "generator": "crates/sverka-audit/tests/data/gen_vectors.py",
            "shangrla_src": os.environ.get("SHANGRLA_COMMIT", "unknown"),
            "cryptorandom": getattr(cryptorandom, "__version__", "0.4"),
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "contests": contests,
        "assertions": assertions,
        "alpha": alpha,
        "kaplan_markov": km,
        "ballot_comparison": comparison,
        "batch_comparison": batch,
        "sample_sizes": sizes,
        "sampler": sampler_streams(),
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
