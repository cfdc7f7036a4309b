"""Personal-data masking (issue 11): recall on the corpus, false positives on ordinary
questions, and latency. Prints one JSON line.

    .venv/bin/python bench/pii.py            # the corpus, the hold-out and the ordinary set

- recall: a value counts as found when one masked span covers every character of it that
  must be masked (``text[start:end]`` in the corpus); per kind and per variant too. A value
  found as another kind still counts (it is masked), and ``kind_agreement`` says how often
  the kind was the one expected.
- false positives: the share of ordinary questions (``ordinary.jsonl``) that masking changes
  at all, with the changed ones listed.
- the same for ``not_names.txt``: sentences where a surname character follows 我是/本人/我叫
  and no name is meant, a stress set for the name rules (reported, no target).
- latency: ``mask_pii`` per question over every question of the three files (the best of three
  runs of each), p50/p99 in µs,
  next to a floor measured in the same run: ``normalize_text``, the step that runs before
  masking on the same text (``ratio`` = masking p50 / floor p50).

Targets (issue 11): recall ≥ 99.5 % on the corpus and on the hold-out, ≤ 1 % of ordinary
questions altered. The process exits 1 when a target is missed.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.filters import normalize_text  # noqa: E402
from moderation.pii import find_pii, mask_pii  # noqa: E402

DATA = ROOT / "tests" / "data" / "pii"
TODAY = date(2026, 1, 1)  # the corpus's birth dates end in 2006
TARGETS = {"recall_min": 0.995, "false_positive_max": 0.01}


def load(name: str) -> list[dict[str, Any]]:
    lines = (DATA / name).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def recall(lines: list[dict[str, Any]]) -> dict[str, Any]:
    total = found = agree = 0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_variant: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed: list[dict[str, Any]] = []
    for line in lines:
        spans = find_pii(line["text"], today=TODAY)
        for value in line["values"]:
            total += 1
            covering = [s for s in spans if s.start <= value["start"] and value["end"] <= s.end]
            key = f'{value["kind"]}: {value["variant"]}'
            by_kind[value["kind"]][1] += 1
            by_variant[key][1] += 1
            if covering:
                found += 1
                by_kind[value["kind"]][0] += 1
                by_variant[key][0] += 1
                agree += covering[0].kind == value["kind"]
            else:
                missed.append({"text": line["text"], "value": value["value"], "kind": key})
    return {
        "values": total,
        "recall": round(found / total, 4),
        "kind_agreement": round(agree / max(found, 1), 4),
        "per_kind": {k: round(f / n, 4) for k, (f, n) in sorted(by_kind.items())},
        "per_kind_count": {k: n for k, (_, n) in sorted(by_kind.items())},
        "worst_variants": dict(sorted(((k, round(f / n, 4)) for k, (f, n) in by_variant.items()
                                       if f < n), key=lambda kv: kv[1])[:10]),
        "missed": missed[:20],
    }


def false_positives(lines: list[dict[str, Any]]) -> dict[str, Any]:
    altered = []
    for line in lines:
        masked, kinds = mask_pii(line["text"], today=TODAY)
        if masked != line["text"]:
            altered.append({"text": line["text"], "masked": masked, "kinds": kinds})
    return {"questions": len(lines), "false_positive_rate": round(len(altered) / len(lines), 4),
            "altered": altered[:20]}


def latency(texts: list[str]) -> dict[str, float]:
    def timed(call: Any) -> list[float]:
        """Per text, the best of three runs (as timeit does: the rest is other load)."""
        best = [float("inf")] * len(texts)
        for _ in range(3):
            for i, text in enumerate(texts):
                start = time.perf_counter()
                call(text)
                best[i] = min(best[i], (time.perf_counter() - start) * 1e6)
        return best

    mask_pii("我叫张伟")  # load jieba's dictionary once, as a running server has
    timed(lambda t: mask_pii(t, today=TODAY))  # warm up
    masking = sorted(timed(lambda t: mask_pii(t, today=TODAY)))
    floor = sorted(timed(normalize_text))

    def pct(samples: list[float], q: float) -> float:
        return round(samples[min(len(samples) - 1, int(q * len(samples)))], 1)

    return {"p50_us": pct(masking, 0.5), "p99_us": pct(masking, 0.99),
            "floor_p50_us": pct(floor, 0.5), "floor_p99_us": pct(floor, 0.99),
            "ratio_p50": round(statistics.median(masking) / statistics.median(floor), 1)}


def load_lines(name: str) -> list[dict[str, Any]]:
    lines = (DATA / name).read_text("utf-8").splitlines()
    return [{"text": line.strip()} for line in lines if line.strip() and not line.startswith("#")]


def main() -> int:
    corpus, holdout, ordinary = load("corpus.jsonl"), load("holdout.jsonl"), load("ordinary.jsonl")
    not_names = load_lines("not_names.txt")
    result: dict[str, Any] = {
        "corpus": recall(corpus),
        "holdout": recall(holdout),
        "ordinary": false_positives(ordinary),
        "not_names": false_positives(not_names),
        "latency": latency([line["text"] for line in corpus + holdout + ordinary]),
        "targets": TARGETS,
    }
    ok = (result["corpus"]["recall"] >= TARGETS["recall_min"]
          and result["holdout"]["recall"] >= TARGETS["recall_min"]
          and result["ordinary"]["false_positive_rate"] <= TARGETS["false_positive_max"])
    result["ok"] = ok
    print(json.dumps(result, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
