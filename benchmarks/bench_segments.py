"""Segment counting throughput: bulksend's ``count_segments`` against
``smsutil.split`` on the same messages, in the same run, then where the two
disagree and which one follows shared/reference/segments.md.

Run:  /work/venv/bin/python benchmarks/bench_segments.py [--seconds S]

smsutil (the ``bench`` extra) returns a ``SplitResult``: ``encoding`` is
``'gsm0338'`` or ``'utf_16_be'`` and ``parts`` holds one ``Part`` per segment,
whose ``content`` is that segment's text.

Timing: the two libraries take turns, one pass over a kind's 200 messages
each, for ``--seconds`` per kind, and each side's fastest pass is reported
(as ``timeit`` advises): on a shared machine the slower passes measure the
neighbours' load, not the code, and taking turns spreads it over both sides.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import regex
import smsutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bulksend.core.segments import _count_exact, count_segments  # noqa: E402

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
FLAGS = ["\U0001f1f8\U0001f1ea", "\U0001f1e9\U0001f1ea", "\U0001f1fa\U0001f1e6", "\U0001f1ef\U0001f1f5"]
WORDS = "your order ships today thanks for shopping with us reply STOP to opt out code".split()
CYRILLIC = "привет заказ доставка сегодня спасибо код ответьте стоп скидка неделя".split()
EMOJI = ["😀", "🎉", "👍🏽", "❤️", "🔥", FAMILY, "👩‍💻", *FLAGS]


def _words(rng: random.Random, pool: list[str], length: int) -> str:
    out = ""
    while len(out) < length:
        out += rng.choice(pool) + " "
    return out[:length]


def _gsm_with_extensions(rng: random.Random) -> str:
    chars = list(_words(rng, WORDS, 1600))
    for i in rng.sample(range(1600), 12):
        chars[i] = rng.choice("€[]{}^~|\\")
    return "".join(chars)


def _emoji_heavy(rng: random.Random) -> str:
    pieces = [rng.choice(EMOJI) if rng.random() < 0.45 else rng.choice(WORDS) + " " for _ in range(40)]
    return "".join(pieces)[:100]


def build_messages() -> dict[str, list[str]]:
    """A fixed mix, the same on every run: 200 messages of each kind."""
    rng = random.Random(2024)
    names = ["Anna", "Bo", "Chen", "Dara"]
    return {
        "short ASCII ~40": [
            f"Hi {rng.choice(names)}, your code is {rng.randint(0, 999999):06d}. Reply STOP" for _ in range(200)
        ],
        "GSM 1600 + ext": [_gsm_with_extensions(rng) for _ in range(200)],
        "Cyrillic ~120": [_words(rng, CYRILLIC, 120) for _ in range(200)],
        "emoji ~100": [_emoji_heavy(rng) for _ in range(200)],
    }


def _pass(func: Callable[[str], object], messages: list[str]) -> float:
    start = time.perf_counter()
    for text in messages:
        func(text)
    return time.perf_counter() - start


def best_pass_times(messages: list[str], seconds: float) -> tuple[float, float]:
    """Fastest seconds per pass over ``messages``: (bulksend, smsutil), taking turns."""
    ours: list[float] = []
    theirs: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(ours) < 5:
        ours.append(_pass(count_segments, messages))
        theirs.append(_pass(smsutil.split, messages))
    return min(ours), min(theirs)


def compare_speed(kinds: dict[str, list[str]], seconds: float) -> None:
    print(f"{'messages/second':<18}{'bulksend':>12}{'smsutil':>12}{'ratio':>9}")
    ours_total = theirs_total = 0.0
    count = 0
    for kind, messages in kinds.items():
        ours, theirs = best_pass_times(messages, seconds)
        ours_total, theirs_total, count = ours_total + ours, theirs_total + theirs, count + len(messages)
        print(f"{kind:<18}{len(messages) / ours:>12,.0f}{len(messages) / theirs:>12,.0f}{theirs / ours:>8.1f}×")
    # Overall: the whole mix (200 of each kind) counted once, end to end.
    ratio = theirs_total / ours_total
    print(f"{'overall (the mix)':<18}{count / ours_total:>12,.0f}{count / theirs_total:>12,.0f}{ratio:>8.1f}×")
    print(f"goal: at least 10× smsutil overall: {'met' if ratio >= 10 else 'MISSED'}")


# Cases where the rules of segments.md are easy to get wrong.
EDGE_CASES = {
    "empty text": "",
    "ESC typed as a character": "\x1b" + "a" * 10,
    "flag across the 67-unit cut": "ж" * 65 + FLAGS[0] + "ж" * 10,
    "ZWJ family across the cut": "ж" * 62 + FAMILY + "ж" * 10,
    "e + U+0301 across the cut": "ж" * 66 + "e\u0301" + "ж" * 10,
    "skin tone across the cut": "ж" * 65 + "👍🏽" + "ж" * 10,
    "CR LF across the 153 cut": "a" * 152 + "\r\n" + "a" * 10,
    "€ across the 153 cut": "a" * 152 + "€" + "a" * 10,
    "emoji across the 67 cut": "ж" * 66 + "😀" + "ж" * 10,
}


def check_agreement(kinds: dict[str, list[str]]) -> None:
    print("\nAgreement (encoding, segment count, and where each segment ends):")
    for kind, messages in kinds.items():
        assert all(count_segments(t) == _count_exact(t) for t in messages), "fast path != exact oracle"
        verdicts = [_verdict(t) for t in messages]
        other_count = [t for t in messages if count_segments(t).segments != len(smsutil.split(t).parts)]
        same_cuts = verdicts.count(None)
        print(f"  {kind:<18} same count {len(messages) - len(other_count)}/{len(messages)},"
              f" same cuts {same_cuts}/{len(messages)}")
        # Different counts first: those change the bill.
        shown = other_count[:2] + [t for t, v in zip(messages, verdicts) if v and t not in other_count][:1]
        for text in shown:
            _show(kind, text, _verdict(text))
    print("\nEdge cases:")
    for name, text in EDGE_CASES.items():
        _show(name, text, _verdict(text))


def _show(name: str, text: str, verdict: str | None) -> None:
    ours, split = count_segments(text), smsutil.split(text)
    theirs = [_units(p.content, split.encoding) for p in split.parts]
    print(f"  {'agree   ' if verdict is None else 'DISAGREE'} {name:<28}"
          f" bulksend {ours.encoding.value} {list(ours.segment_units)}"
          f" | smsutil {_encoding(split.encoding)} {theirs}")
    if verdict:
        print(f"           {verdict}")


def _encoding(smsutil_encoding: str) -> str:
    return "GSM-7" if smsutil_encoding == "gsm0338" else "UCS-2"


def _units(text: str, smsutil_encoding: str) -> int:
    if smsutil_encoding == "gsm0338":
        return len(text) + sum(text.count(c) for c in "\f^{}\\[~]|€")
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _verdict(text: str) -> str | None:
    """None when both libraries agree; otherwise why bulksend is right."""
    ours, split = count_segments(text), smsutil.split(text)
    if _encoding(split.encoding) != ours.encoding.value:
        if not text:
            return "empty text is GSM-7, 1 segment of 0 characters (segments.md); smsutil's GSM regex needs a character"
        return "U+001B typed as a character is not GSM (segments.md); smsutil's basic charset includes ESC"
    our_cuts = _cuts([len(t) for t in ours.segment_texts])
    their_cuts = _cuts([len(p.content) for p in split.parts])
    if our_cuts == their_cuts:
        return None
    inside = sorted(their_cuts - _cluster_boundaries(text))
    if inside:
        at = inside[0]
        cluster = next(c for s, c in _clusters(text) if s < at < s + len(c))
        points = " ".join(f"U+{ord(c):04X}" for c in cluster)
        shown = cluster if all(ord(c) >= 0x20 for c in cluster) else repr(cluster)
        return (f"smsutil cuts inside the grapheme cluster {shown} ({points}); a cut never splits a "
                "cluster, the cluster moves whole to the next segment (segments.md)")
    return "the cuts differ although neither splits a cluster: look at this case"


def _cuts(lengths: list[int]) -> set[int]:
    cuts, at = set(), 0
    for length in lengths[:-1]:
        at += length
        cuts.add(at)
    return cuts


def _clusters(text: str) -> list[tuple[int, str]]:
    out, at = [], 0
    for cluster in regex.findall(r"\X", text):
        out.append((at, cluster))
        at += len(cluster)
    return out


def _cluster_boundaries(text: str) -> set[int]:
    return {start for start, _ in _clusters(text)} | {len(text)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="timing per kind (default 1.5)")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}; {args.seconds}s per kind, libraries taking turns, "
          "fastest pass of 200 messages (time.perf_counter)\n")
    kinds = build_messages()
    compare_speed(kinds, args.seconds)
    check_agreement(kinds)


if __name__ == "__main__":
    main()
