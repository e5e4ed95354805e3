"""The peer side of `npm run bench -- topn`: times the implicit library's batch top-N for every user
on factors and a rated-items CSR written by scripts/bench/topn.ts (the implicit library must be on
PYTHONPATH, with OPENBLAS_NUM_THREADS=1 so that num_threads alone sets the parallelism).

Usage: python3 implicit_topn.py DIR --threads T [--n 50]
DIR holds user_factors.npy (float32, users x k), item_factors.npy (float32, items x k),
indptr.npy and indices.npy (the CSR of each user's rated items, ascending within a row) and
sample.npy (the user indices whose lists are printed for the cross-check).

The timed call is implicit 0.7.3's
`model.recommend(np.arange(users), user_items, N=n, filter_already_liked_items=True)` on an
`implicit.cpu.als.AlternatingLeastSquares(num_threads=T)` given those factors: it scores users in
batches of 100 (a BLAS product), sets each user's rated items to -inf and selects the best n,
the batches spread over T OpenMP threads. Reading the files and building the CSR are timed apart.
Prints one JSON line: seconds (wall) and cpuSeconds of the call, loadSeconds, peakRssMB (ru_maxrss
of the whole process) and the sample users' item lists.
"""
import argparse
import json
import os
import resource
import time

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--n", type=int, default=50)
a = ap.parse_args()


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


t0 = time.perf_counter()
user_factors = np.load(os.path.join(a.dir, "user_factors.npy"))
item_factors = np.load(os.path.join(a.dir, "item_factors.npy"))
indptr = np.load(os.path.join(a.dir, "indptr.npy")).astype(np.int32, copy=False)
indices = np.load(os.path.join(a.dir, "indices.npy")).astype(np.int32, copy=False)
sample = np.load(os.path.join(a.dir, "sample.npy"))
users, k = user_factors.shape
items = item_factors.shape[0]
# The values are never read by the filter (it uses each row's indices); ones keep the CSR valid.
user_items = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(users, items))
model = AlternatingLeastSquares(factors=k, num_threads=a.threads)
model.user_factors = user_factors
model.item_factors = item_factors
load_seconds = time.perf_counter() - t0

c0 = cpu_seconds()
t0 = time.perf_counter()
ids, scores = model.recommend(np.arange(users), user_items, N=a.n, filter_already_liked_items=True)
seconds = time.perf_counter() - t0
cpu = cpu_seconds() - c0

print(
    json.dumps(
        {
            "side": "implicit",
            "threads": a.threads,
            "n": a.n,
            "users": int(users),
            "items": int(items),
            "factors": int(k),
            "seconds": round(seconds, 3),
            "cpuSeconds": round(cpu, 3),
            "loadSeconds": round(load_seconds, 3),
            "peakRssMB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "sample": {str(int(u)): [int(i) for i in ids[u]] for u in sample},
        }
    )
)
