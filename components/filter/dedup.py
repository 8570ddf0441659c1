"""Near-duplicate removal: MinHash over word shingles of the prompt, bucketed by the answer.

Two examples are duplicates when they give the same (normalised) answer and their prompts'
3-word-shingle Jaccard similarity reaches the threshold. Locality-sensitive hashing over MinHash
bands finds the candidate pairs in linear time; the exact Jaccard then decides, so the result does
not depend on hash luck beyond which pairs get compared.
"""

from __future__ import annotations

import hashlib
import re
import struct

NUM_PERM = 64
BANDS = 16
MERSENNE = (1 << 61) - 1


def normalize(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9$]+", text.lower()))


def shingles(text: str, k: int = 3) -> frozenset[str]:
    words = normalize(text).split()
    if len(words) < k:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i:i + k]) for i in range(len(words) - k + 1))


def _hash(value: str) -> int:
    return struct.unpack("<Q", hashlib.blake2b(value.encode(), digest_size=8).digest())[0]


_PERMS = [((_hash(f"a{i}") % (MERSENNE - 1)) + 1, _hash(f"b{i}") % MERSENNE) for i in range(NUM_PERM)]


def minhash(items: frozenset[str]) -> tuple[int, ...]:
    hashes = [_hash(s) for s in items] or [0]
    return tuple(min((a * h + b) % MERSENNE for h in hashes) for a, b in _PERMS)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class NearDuplicateIndex:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._buckets: dict[tuple, list[int]] = {}
        self._shingles: list[frozenset[str]] = []

    def seen(self, prompt: str, answer: str) -> bool:
        """True when a kept example is a near-duplicate; otherwise remembers this one and returns False."""
        answer_key = hashlib.sha1(normalize(answer).encode()).hexdigest()
        items = shingles(prompt)
        signature = minhash(items)
        rows = NUM_PERM // BANDS
        keys = [(answer_key, band, signature[band * rows:(band + 1) * rows]) for band in range(BANDS)]
        candidates = {i for key in keys for i in self._buckets.get(key, [])}
        if any(jaccard(items, self._shingles[i]) >= self.threshold for i in sorted(candidates)):
            return True
        index = len(self._shingles)
        self._shingles.append(items)
        for key in keys:
            self._buckets.setdefault(key, []).append(index)
        return False
