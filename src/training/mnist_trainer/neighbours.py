"""One-pass k-nearest-neighbour classification for many k at once.

The 2019 hands-on fitted a fresh `KNeighborsClassifier` for every k and scored it, so the
expensive part (distances from every test image to every training image) ran once per k. Here it
runs once: a float32 matrix product finds, for each test image, a short list of candidate
neighbours; their distances are then recomputed exactly and every k is voted from that one list.

The predictions equal scikit-learn's `KNeighborsClassifier(n_neighbors=k).predict` image by image,
for every k, on integer-valued data such as raw MNIST pixels (where float64 distances are exact):

- float32 rounding can reorder near-ties, so the float32 product only proposes candidates; a
  rigorous rounding bound proves that every training point as close as the largest k's neighbour
  is among them (rows where it cannot be proved are recomputed exactly in full);
- equal distances go to the lower training index, which is what scikit-learn's neighbour heap
  does almost always; when equal distances straddle the k-th place, its heap can keep a higher
  index instead, so for those rare (image, k) pairs we replay its heap push by push;
- a tied vote goes to the smallest label (scikit-learn's argmax over class counts).

For non-integer features (e.g. PCA) "exact" means float64, as in scikit-learn, and the two can
differ only on distances equal to within float64 rounding.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

# float32 unit roundoff; the product's error bound is built from it.
_U32 = 2.0**-24
# Test rows per block: the float32 distance block takes 4 bytes per (test, train) pair, so 512
# rows x 60,000 training images is ~123 MB (the candidate selection adds a few MB).
DEFAULT_BLOCK_ROWS = 512
# Candidates kept per test image beyond the largest k (more: fewer exact fallbacks, slower).
DEFAULT_EXTRA_CANDIDATES = 16
# Columns per block in the candidate selection (`_nearest_candidates`): 16-64 measured alike.
_BLOCK_WIDTH = 32
# Training rows per step when a whole row of exact distances is needed.
_FULL_ROW_STEP = 8192


@dataclass(frozen=True)
class SearchStats:
    """What the search did, for logs and the benchmark."""

    test_rows: int
    candidates_per_row: int
    full_rows: int  # rows whose candidates could not be proved complete: recomputed in full
    heap_replays: (
        int  # (row, k) pairs with a tie across the k-th place: scikit-learn's heap replayed
    )


def predict_many_k(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    ks: Sequence[int],
    *,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    extra_candidates: int = DEFAULT_EXTRA_CANDIDATES,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> tuple[dict[int, np.ndarray], SearchStats]:
    """Predict labels of `x_test` for every k in `ks` with one neighbour search.

    Returns ({k: predicted labels, same dtype as y_train}, stats). `progress(done, total)` is
    called after each block of test rows, in order. `workers` threads (None: as many as BLAS
    would use, which honours OPENBLAS_NUM_THREADS/OMP_NUM_THREADS and is otherwise the cores)
    search blocks side by side, each product on one BLAS thread. Measured here on full MNIST,
    raw pixels: 8.3 s with two workers, 10.4 s with one block at a time on two BLAS threads (the
    selection and exact distances after each product ran on one core), 16.6 s on one. Workers
    that wait sleep, where BLAS's own threads spin when the cores are busy elsewhere. The count
    changes the speed only: every product runs on one thread, and the candidates are proved
    complete either way.
    """
    ks = sorted(set(int(k) for k in ks))
    n_train = len(x_train)
    if not ks or ks[0] < 1:
        raise ValueError(f"every k must be >= 1, got {list(ks)}")
    if ks[-1] > n_train:
        raise ValueError(f"k={ks[-1]} is larger than the {n_train} training samples")
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]:
        raise ValueError(
            f"x_train {x_train.shape} and x_test {x_test.shape} must be 2-D with equal columns"
        )
    if len(y_train) != n_train:
        raise ValueError(f"{len(y_train)} labels for {n_train} training samples")

    classes, y_codes = np.unique(y_train, return_inverse=True)
    search = _Search(x_train, y_codes.astype(np.intp), len(classes), ks, extra_candidates)
    predictions = {k: np.empty(len(x_test), dtype=np.intp) for k in ks}
    # One controller for the whole search: it knows the libraries loaded now, numpy's BLAS among
    # them (building one walks every loaded shared library: once, not per block).
    from threadpoolctl import ThreadpoolController

    blas = ThreadpoolController().select(user_api="blas")
    if workers is None:
        workers = max([1, *(int(lib["num_threads"]) for lib in blas.info())])
    starts = range(0, len(x_test), block_rows)
    pool = ThreadPoolExecutor(max(1, min(workers, len(starts))), thread_name_prefix="knn")
    try:
        with blas.limit(limits=1):
            blocks = pool.map(lambda at: search.block(x_test[at : at + block_rows]), starts)
            for start, found in zip(starts, blocks, strict=True):
                stop = min(start + block_rows, len(x_test))
                for k, codes in found.items():
                    predictions[k][start:stop] = codes
                if progress is not None:
                    progress(stop, len(x_test))
    finally:  # on an error or Ctrl-C, the blocks not yet started are dropped
        pool.shutdown(wait=True, cancel_futures=True)
    stats = SearchStats(len(x_test), search.m, search.full_rows, search.heap_replays)
    return {k: classes[codes] for k, codes in predictions.items()}, stats


class _Search:
    """The training side, prepared once, and the per-block search (thread-safe: each thread has
    its own distance buffer, and the counters are added under a lock)."""

    def __init__(
        self, x_train: np.ndarray, y_codes: np.ndarray, n_classes: int, ks: list[int], extra: int
    ) -> None:
        self.y = y_codes
        self.n_classes = n_classes
        self.ks = ks
        # Features that are zero in every training row (MNIST's outer pixels: ~9% of them) add
        # exactly 0 to every dot product, so the products skip them; a query's norm keeps them.
        self.features = np.flatnonzero(np.any(x_train != 0, axis=0))
        self.x32 = np.ascontiguousarray(x_train[:, self.features], dtype=np.float32)
        self.norm64 = np.einsum("ij,ij->i", self.x32, self.x32, dtype=np.float64)
        self.norm32 = self.norm64.astype(np.float32)
        self.m = min(len(x_train), ks[-1] + extra)  # candidates per test row
        # Rounding bound of the float32 value ||y||^2 - 2 x.y (Higham's gamma_n, doubled for
        # safety): |error| <= gamma * (||y||^2 + 2 ||x|| ||y||) for every training row y.
        n_terms = x_train.shape[1] + 3
        self.gamma = 2 * n_terms * _U32 / (1 - n_terms * _U32)
        self.max_norm2 = float(self.norm64.max(initial=0.0))
        self.full_rows = 0
        self.heap_replays = 0
        self._lock = threading.Lock()
        self._local = threading.local()  # .approx: this thread's distance buffer

    def block(self, x_test: np.ndarray) -> dict[int, np.ndarray]:
        """Predicted class codes for one block of test rows, for every k."""
        q_all = np.asarray(x_test, dtype=np.float32).astype(np.float64)
        q_norm = np.einsum("ij,ij->i", q_all, q_all)
        q64 = q_all[:, self.features]
        q32 = q64.astype(np.float32)
        kmax, m, n_train = self.ks[-1], self.m, len(self.x32)

        if m < n_train:
            # The one big product, ||y||^2 - 2 x.y: (-2 x).y rounds exactly as -2 (x.y) (a power
            # of two; barring subnormal values), written into a buffer each worker thread reuses
            # for all its blocks (no fresh 123 MB per block; it stays allocated through the
            # search).
            approx = np.matmul(q32 * np.float32(-2), self.x32.T, out=self._buffer(len(q32)))
            approx += self.norm32
            cand, next_approx = _nearest_candidates(approx, m)
        else:  # fewer training rows than candidates: every row is a candidate
            cand = np.tile(np.arange(n_train), (len(q32), 1))
            next_approx = np.full(len(q32), np.inf)

        dist = self._exact(q64, q_norm, cand)
        order = np.lexsort((cand, dist), axis=1)  # by distance, then training index
        cand = np.take_along_axis(cand, order, axis=1)
        dist = np.take_along_axis(dist, order, axis=1)

        # Proof that no non-candidate is as close as the kmax-th candidate; rows without it get
        # their candidates from a full row of exact distances instead.
        err = self.gamma * (self.max_norm2 + 2 * np.sqrt(q_norm * self.max_norm2))
        full: dict[int, np.ndarray] = {}
        for row in np.flatnonzero(~(dist[:, kmax - 1] < next_approx + q_norm - err)).tolist():
            full[row] = self._full_row(q64[row], q_norm[row])
            best = np.lexsort((np.arange(n_train), full[row]))[:m]
            cand[row], dist[row] = best, full[row][best]
        fallbacks, replays = len(full), 0

        labels = self.y[cand[:, :kmax]]
        counts = np.cumsum(labels[:, :, None] == np.arange(self.n_classes), axis=1, dtype=np.int32)
        out = {k: np.argmax(counts[:, k - 1, :], axis=1) for k in self.ks}

        # Equal distances across the k-th place: keep the set scikit-learn's heap keeps.
        for k in self.ks:
            if k >= m:
                continue
            for row in np.flatnonzero(dist[:, k - 1] == dist[:, k]).tolist():
                if row not in full:
                    full[row] = self._full_row(q64[row], q_norm[row])
                kept = sklearn_heap_topk(full[row], k)
                out[k][row] = np.argmax(np.bincount(self.y[kept], minlength=self.n_classes))
                replays += 1
        with self._lock:
            self.full_rows += fallbacks
            self.heap_replays += replays
        return out

    def _buffer(self, rows: int) -> np.ndarray:
        """This thread's float32 (rows, n_train) block of approximate distances, allocated once."""
        approx: np.ndarray | None = getattr(self._local, "approx", None)
        if approx is None or len(approx) < rows:
            approx = self._local.approx = np.empty((rows, len(self.x32)), dtype=np.float32)
        return approx[:rows]

    def _exact(self, q64: np.ndarray, q_norm: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """float64 squared distances to the candidates, formed as scikit-learn forms them."""
        dots = np.einsum("rd,rmd->rm", q64, self.x32[cand], dtype=np.float64)
        return np.maximum(q_norm[:, None] - 2 * dots + self.norm64[cand], 0.0)

    def _full_row(self, q64: np.ndarray, q_norm: float) -> np.ndarray:
        """float64 squared distances from one test row to every training row."""
        dots = np.concatenate(
            [
                self.x32[i : i + _FULL_ROW_STEP].astype(np.float64) @ q64
                for i in range(0, len(self.x32), _FULL_ROW_STEP)
            ]
        )
        return np.maximum(q_norm - 2 * dots + self.norm64, 0.0)


def _nearest_candidates(approx: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the columns of the m smallest values and the (m+1)-th smallest value.

    Selecting over a whole row of 60,000 values (np.partition) cost more than the product itself.
    Instead the columns are cut into blocks (block j: columns j, j + n_blocks, ...), whose minima
    are one vectorised pass over the matrix. The (m+1)-th smallest block minimum `bound` is an
    upper bound on the (m+1)-th smallest value (m+1 blocks each hold a value <= bound), so the
    values <= bound, all inside the blocks whose minimum is <= bound, include the m+1 smallest:
    the selection below runs on those few blocks (and the columns left over by the blocking)
    and gives what it gives on the whole row. A row with ties at the threshold falls back to
    argpartition over its candidates.
    """
    rows, n = approx.shape
    width = max(1, min(_BLOCK_WIDTH, n // (m + 1)))  # at least m + 1 blocks
    n_blocks = n // width
    minima = np.minimum.reduce(approx[:, : n_blocks * width].reshape(rows, width, n_blocks), axis=1)
    bound = np.partition(minima, m, axis=1)[:, m]
    # Every row's blocks with minimum <= bound are among its `keep` smallest (keep = the most
    # such blocks any row has; extra blocks only add candidates).
    keep = int((minima <= bound[:, None]).sum(axis=1).max())
    if keep < n_blocks:
        blocks = np.argpartition(minima, keep - 1, axis=1)[:, :keep]
    else:
        blocks = np.broadcast_to(np.arange(n_blocks), (rows, n_blocks))
    cols = (blocks[:, :, None] + np.arange(width) * n_blocks).reshape(rows, -1)
    if n_blocks * width < n:  # the columns the blocks leave over are candidates in every row
        rest = np.broadcast_to(np.arange(n_blocks * width, n), (rows, n - n_blocks * width))
        cols = np.concatenate([cols, rest], axis=1)
    values = np.take_along_axis(approx, cols, axis=1)

    threshold = np.partition(values, m, axis=1)[:, m]
    below = values < threshold[:, None]
    exact = below.sum(axis=1) == m
    cand = np.empty((rows, m), dtype=np.intp)
    cand[exact] = cols[exact][below[exact]].reshape(-1, m)
    for row in np.flatnonzero(~exact).tolist():  # ties at the threshold: rare
        order = np.argpartition(values[row], m)
        cand[row] = cols[row, order[:m]]
    return cand, threshold


def sklearn_heap_topk(dist: np.ndarray, k: int) -> np.ndarray:
    """Indices scikit-learn's brute-force search keeps as the k nearest (set, not order).

    scikit-learn pushes every training point, in index order, onto a fixed-size max-heap
    (sklearn/utils/_heap.pyx `heap_push`); a point enters only if strictly closer than the current
    root. This is that heap, step for step, so ties across the k-th place resolve as it resolves
    them.
    """
    values = [np.finfo(np.float64).max] * k
    indices = [0] * k
    for idx, val in enumerate(dist.tolist()):
        if val >= values[0]:
            continue
        pos = 0
        while True:
            left = 2 * pos + 1
            right = left + 1
            if left >= k:
                break
            if right >= k:
                if values[left] > val:
                    swap = left
                else:
                    break
            elif values[left] >= values[right]:
                if val < values[left]:
                    swap = left
                else:
                    break
            elif val < values[right]:
                swap = right
            else:
                break
            values[pos] = values[swap]
            indices[pos] = indices[swap]
            pos = swap
        values[pos] = val
        indices[pos] = idx
    return np.array(indices, dtype=np.intp)
