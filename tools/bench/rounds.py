"""Rounds of the sustained benchmark, so that a machine whose speed drifts cannot decide a
comparison.

The subjects run one after another, minutes apart, and these machines are VMs: the share of
CPU the hypervisor takes (steal) went from 0% to 36% within an afternoon here, and a ratio
between two subjects measured ten minutes apart moved from 2.2x to 1.0x with it. So the
subjects run in rounds whose order alternates (d c a b, then b a c d, ...: a drift that is
linear in time then weighs on every subject alike), each round a full sustained run per
subject, and the figures are pooled over the rounds (cycles and notifications summed over
the seconds summed, latency samples merged). Each round's own ratio is printed beside the
pooled one, and a comparison is flagged when its rounds disagree or when the steal of the
subjects it compares differs: then the machine, not the code, moved the figure.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator

import load
from sustained import Sustained

# A comparison is flagged when its rounds' ratios spread by more than this share of their
# median, or when the subjects compared saw steal percentages this many points apart.
SPREAD = 0.20
STEAL_POINTS = 5.0


def order(keys: str, round_index: int) -> Iterator[str]:
    """The subjects of one round: in the given order on even rounds, reversed on odd ones."""
    yield from (keys if round_index % 2 == 0 else keys[::-1])


def pool(runs: list[Sustained]) -> Sustained:
    """One subject's rounds as one run of their summed length."""
    first, last = runs[0], runs[-1]
    out = Sustained(first.name, first.clients)
    out.result = load.Result(first.clients)
    for run in runs:
        out.seconds += run.seconds
        out.notified_in_load += run.notified_in_load
        out.lost += run.lost
        out.duplicates += run.duplicates
        if run.result is not None:
            out.result.done += run.result.done
            out.result.errors += run.result.errors
            out.result.seconds += run.result.seconds
            for op, samples in run.result.latencies.items():
                out.result.latencies[op].extend(samples)
    out.drain = max((r.drain for r in runs), default=math.nan)
    done = max(1, out.cycles)
    for name in last.cpu_ms:  # per cycle: weighted by each round's cycles
        out.cpu_ms[name] = sum(r.cpu_ms.get(name, 0.0) * r.cycles for r in runs) / done
    out.generator_ms = sum(r.generator_ms * r.cycles for r in runs) / done
    # memory of one process's life: every round starts its subject afresh
    out.rss_before, out.rss_warm, out.rss_after = last.rss_before, last.rss_warm, last.rss_after
    out.get_p50 = statistics.median(r.get_p50 for r in runs)
    out.load_before, out.load_after = first.load_before, last.load_after
    out.steal_pct = sum(r.steal_pct * r.seconds for r in runs) / max(out.seconds, 1e-9)
    return out


def report(by_subject: dict[str, list[Sustained]]) -> None:
    """Each round's end-to-end ratio of every Task API subject to the seed's, and a flag
    where the machine moved it."""
    seed = next((runs for runs in by_subject.values() if runs[0].name.startswith("seed")), None)
    if seed is None or len(seed) < 2:
        return
    print("\n== rounds: e2e/s over the seed's, each round apart (pooled figures above) ==")
    for runs in by_subject.values():
        if not runs[0].name.startswith("Task API"):
            continue
        pairs = list(zip(runs, seed, strict=True))
        ratios = [r.e2e_rate / s.e2e_rate if s.e2e_rate > 0 else math.nan for r, s in pairs]
        steal = [abs(r.steal_pct - s.steal_pct) for r, s in pairs]
        middle = statistics.median(ratios)
        spread = (max(ratios) - min(ratios)) / middle if middle > 0 else math.inf
        flags = []
        if spread > SPREAD:
            flags.append(f"rounds differ by {100 * spread:.0f}% of their median")
        if max(steal) > STEAL_POINTS:
            flags.append(f"steal differed by up to {max(steal):.1f} points from the seed's")
        verdict = "; ".join(flags) or "steady"
        each = ", ".join(f"{v:.2f}x" for v in ratios)
        print(f"{runs[0].name:34} {each:30} ({verdict})")
