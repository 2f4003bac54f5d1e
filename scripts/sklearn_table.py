"""scikit-learn's references for the table-scale bench (issue 24).

usage: python3 scripts/sklearn_table.py FILE.csv [--k 5] [--trees 100]

Reads a CSV of numeric features plus a `label` column, fits on the normal rows of the same
half-normals-like split the bench uses (the first half of the normals, shuffled with a fixed
seed) and scores every row with
  - IsolationForest (scikit-learn defaults: 100 trees of 256 rows), fit + score;
  - kNN: mean distance to the k nearest training normals on standardised features
    (NearestNeighbors, its default algorithm), fit + score.
Prints one JSON object: seconds and AUROC of each, the rows, the peak RSS of this process.
"""
import json
import resource
import sys
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors


def main() -> None:
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    path = args[0]
    k = int(args[args.index("--k") + 1]) if "--k" in args else 5
    trees = int(args[args.index("--trees") + 1]) if "--trees" in args else 100
    t0 = time.perf_counter()
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    label_col = header.index("label")
    labels = data[:, label_col].astype(np.int8)
    x = np.delete(data, label_col, axis=1).astype(np.float32)
    read_seconds = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    normals = np.flatnonzero(labels == 0)
    rng.shuffle(normals)
    train = x[normals[: len(normals) // 2]]

    t0 = time.perf_counter()
    forest = IsolationForest(n_estimators=trees, random_state=0).fit(train)
    iso = -forest.score_samples(x)
    iso_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    mean = train.mean(0)
    std = train.std(0) + 1e-6
    nn = NearestNeighbors(n_neighbors=k).fit((train - mean) / std)
    dist, _ = nn.kneighbors((x - mean) / std)
    knn = dist.mean(1)
    knn_seconds = time.perf_counter() - t0

    both = len(np.unique(labels)) > 1
    print(json.dumps({
        "rows": int(x.shape[0]),
        "features": int(x.shape[1]),
        "trainRows": int(train.shape[0]),
        "readSeconds": read_seconds,
        "isolationForest": {
            "seconds": iso_seconds,
            "trees": trees,
            "auroc": float(roc_auc_score(labels, iso)) if both else None,
        },
        "knn": {
            "seconds": knn_seconds,
            "k": k,
            "auroc": float(roc_auc_score(labels, knn)) if both else None,
        },
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
