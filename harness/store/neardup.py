"""Near-duplicate structure of a corpus and the splits that respect it.

Records are deduplicated exactly (:mod:`harness.store.canonical`: the same kernel up to names and formatting is
stored once), but many kernels differ from another only in a constant, or in one statement. A model evaluated on
a test split that holds such a neighbour of a training record is tested on what it saw. This module gives every
record two group keys and a split derived from them:

* ``shape_id``: the canonical source with every numeric literal masked (``2.5`` and ``(-3)`` both become
  ``N``) and the kernel's name (``k_<hex>``, which also prefixes its helper functions) replaced by one
  placeholder; the first 16 hex digits of its SHA-256. Records with one shape differ only in constants.
* ``cluster_id``: near-duplicate clusters. Each record's canonical source is cut into tokens (Python's
  tokenizer; literals kept), shingled by :data:`SHINGLE` consecutive tokens, and summarised by a MinHash of
  :data:`NUM_PERM` permutations (``datasketch``); records whose estimated Jaccard similarity is at least
  :data:`THRESHOLD` are linked (candidates from MinHash LSH, each link checked against the estimate), and every
  record with one shape is linked too; a cluster is a connected component of those links (single linkage), named
  by the smallest record id in it, so the name does not depend on the order records are read in.
* ``split``: ``train``, ``validation`` or ``test``, from a hash of the cluster id alone
  (:data:`SPLIT_FRACTIONS`): a cluster is never split, and a record keeps its split when records are added
  unless its cluster merges with another.

Everything is deterministic: the MinHash seed is fixed, and hashes are SHA-256.
"""

from __future__ import annotations

import ast
import hashlib
import io
import re
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .canonical import canonical_source

__all__ = [
    "NUM_PERM",
    "SHINGLE",
    "SPLIT_FRACTIONS",
    "THRESHOLD",
    "Groups",
    "group",
    "shape_id",
    "shingles",
    "split_of",
]

#: MinHash permutations: the standard error of a Jaccard estimate is about 1/sqrt(NUM_PERM) = 0.09
NUM_PERM = 128
#: estimated Jaccard similarity of token shingles at or above which two records are near duplicates
THRESHOLD = 0.85
#: tokens per shingle
SHINGLE = 5
#: the MinHash permutations' seed (fixed: cluster ids must not change between runs)
MINHASH_SEED = 1
#: split -> share of clusters (by a hash of the cluster id), in order
SPLIT_FRACTIONS: tuple[tuple[str, float], ...] = (("train", 0.90), ("validation", 0.05), ("test", 0.05))

_KERNEL_NAME = re.compile(r"\bk_[0-9a-f]{6,}")
_SKIP = frozenset({tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.ENCODING, tokenize.ENDMARKER,
                   tokenize.INDENT, tokenize.DEDENT})


class _MaskNumbers(ast.NodeTransformer):
    """Numeric literals, negated ones included (``(-2.0)``: the generator's negative constants), become ``N``."""

    def visit_UnaryOp(self, node):
        if isinstance(node.op, (ast.USub, ast.UAdd)) and _is_number(node.operand):
            return ast.Name("N", ast.Load())
        return self.generic_visit(node)

    def visit_Constant(self, node):
        return ast.Name("N", ast.Load()) if _is_number(node) else node


def _is_number(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex)) and not isinstance(
        node.value, bool)


def _tokens(canonical: str, mask: bool) -> list[str]:
    """The canonical text's tokens (layout tokens dropped; ``mask``: numeric literals, negated ones included,
    become ``N``); the kernel name placeholder is applied before tokenizing."""
    text = _KERNEL_NAME.sub("k_K", canonical)
    if mask:
        text = ast.unparse(_MaskNumbers().visit(ast.parse(text)))
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in _SKIP:
            continue
        out.append(tok.string)
    return out


def shape_id(python_source: str, canonical: str | None = None) -> str:
    """16 hex digits naming the record's shape: its canonical source with numeric literals masked."""
    canonical = canonical_source(python_source) if canonical is None else canonical
    return hashlib.sha256(" ".join(_tokens(canonical, mask=True)).encode()).hexdigest()[:16]


def shingles(python_source: str, canonical: str | None = None) -> set[str]:
    """The record's token shingles (:data:`SHINGLE` consecutive tokens of its canonical source, literals kept);
    a source shorter than one shingle is one shingle."""
    canonical = canonical_source(python_source) if canonical is None else canonical
    toks = _tokens(canonical, mask=False)
    if len(toks) <= SHINGLE:
        return {" ".join(toks)}
    return {" ".join(toks[i:i + SHINGLE]) for i in range(len(toks) - SHINGLE + 1)}


def split_of(cluster_id: str) -> str:
    """The split of every record of a cluster: a function of the cluster id alone."""
    x = int(hashlib.sha256(f"split:{cluster_id}".encode()).hexdigest()[:12], 16) / 16**12
    acc = 0.0
    for name, share in SPLIT_FRACTIONS:
        acc += share
        if x < acc:
            return name
    return SPLIT_FRACTIONS[-1][0]


@dataclass(frozen=True)
class Groups:
    """The group keys of a list of records, by position: ``shape_ids[i]``, ``cluster_ids[i]``, ``splits[i]``."""

    shape_ids: tuple[str, ...]
    cluster_ids: tuple[str, ...]
    splits: tuple[str, ...]

    @property
    def n_shapes(self) -> int:
        return len(set(self.shape_ids))

    @property
    def n_clusters(self) -> int:
        return len(set(self.cluster_ids))

    def near_duplicate_share(self) -> float:
        """The share of records that have a near duplicate (another record in their cluster)."""
        if not self.cluster_ids:
            return 0.0
        sizes: dict[str, int] = {}
        for c in self.cluster_ids:
            sizes[c] = sizes.get(c, 0) + 1
        return sum(1 for c in self.cluster_ids if sizes[c] > 1) / len(self.cluster_ids)

    def split_sizes(self) -> dict[str, int]:
        counts = {name: 0 for name, _ in SPLIT_FRACTIONS}
        for s in self.splits:
            counts[s] += 1
        return counts


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def group(ids: Sequence[str], sources: Sequence[str], progress=None) -> Groups:
    """Shape ids, near-duplicate clusters and splits of records given by their ids and Python sources (in any
    order: the result does not depend on it). Needs ``datasketch`` (``pip install -e ".[dataset]"``).
    ``progress(n)`` is called after every 100 records hashed."""
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError as e:  # pragma: no cover - the extra is installed where this runs
        raise ImportError('near-duplicate clustering needs datasketch: pip install -e ".[dataset]"') from e
    if len(ids) != len(sources):
        raise ValueError("ids and sources differ in length")
    n = len(ids)
    shapes, hashes = [], []
    for i, source in enumerate(sources):
        canonical = canonical_source(source)
        shapes.append(shape_id(source, canonical))
        m = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED)
        m.update_batch([s.encode() for s in sorted(shingles(source, canonical))])
        hashes.append(m)
        if progress is not None and (i + 1) % 100 == 0:
            progress(i + 1)
    uf = _UnionFind(n)
    first_of_shape: dict[str, int] = {}
    for i, s in enumerate(shapes):
        if s in first_of_shape:
            uf.union(first_of_shape[s], i)
        else:
            first_of_shape[s] = i
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    order = sorted(range(n), key=lambda i: ids[i])  # insertion order fixed by id: candidates do not depend on input order
    for i in order:
        for j in lsh.query(hashes[i]):
            if hashes[i].jaccard(hashes[j]) >= THRESHOLD:
                uf.union(i, j)
        lsh.insert(i, hashes[i])
    smallest: dict[int, str] = {}
    for i in range(n):
        root = uf.find(i)
        if root not in smallest or ids[i] < smallest[root]:
            smallest[root] = ids[i]
    clusters = tuple(smallest[uf.find(i)] for i in range(n))
    return Groups(tuple(shapes), clusters, tuple(split_of(c) for c in clusters))


def keep_one(ids: Sequence[str], keys: Iterable[str]) -> list[int]:
    """Positions of the records to keep when one record per key (cluster or shape) is wanted: the one with the
    smallest id of each key, in the original order."""
    best: dict[str, tuple[str, int]] = {}
    for i, (rid, key) in enumerate(zip(ids, keys)):
        if key not in best or rid < best[key][0]:
            best[key] = (rid, i)
    chosen = {i for _, i in best.values()}
    return [i for i in range(len(ids)) if i in chosen]
