#!/usr/bin/env python3
"""The Python side of `rank::bench`: PageRank of the benchmark graph with python-igraph
(PRPACK) and networkx, on the exact edge list the Rust kernel used.

Usage: bench_python.py DIR N TOL [networkx]
DIR holds src.u32, dst.u32, weight.f32 (raw little-endian arrays, one entry per distinct edge).
For each library it writes DIR/<name>.f64 (scores by node) and prints one JSON line:
{"name", "build_seconds", "seconds", "scores"}. TOL is the L1 threshold; networkx's own
`tol` is per node, so it gets TOL / N.
"""
import json
import os
import sys
import time

import numpy as np


def report(directory, name, build, seconds, scores):
    path = os.path.join(directory, name.replace(" ", "_") + ".f64")
    np.asarray(scores, dtype="<f8").tofile(path)
    print(json.dumps({"name": name, "build_seconds": build, "seconds": seconds, "scores": path}), flush=True)


def main():
    directory, n, tol = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    with_networkx = len(sys.argv) > 4 and sys.argv[4] == "networkx"
    src = np.fromfile(os.path.join(directory, "src.u32"), dtype="<u4").astype(np.int64)
    dst = np.fromfile(os.path.join(directory, "dst.u32"), dtype="<u4").astype(np.int64)
    weight = np.fromfile(os.path.join(directory, "weight.f32"), dtype="<f4").astype(np.float64)

    import igraph
    started = time.perf_counter()
    g = igraph.Graph(n=n, edges=np.column_stack([src, dst]).tolist(), directed=True)
    g.es["weight"] = weight.tolist()
    build = time.perf_counter() - started
    started = time.perf_counter()
    scores = g.pagerank(weights="weight", damping=0.85, implementation="prpack")
    report(directory, "igraph prpack", build, time.perf_counter() - started, scores)
    del g

    if with_networkx:
        import networkx as nx
        started = time.perf_counter()
        G = nx.DiGraph()
        G.add_nodes_from(range(n))
        G.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), weight.tolist()))
        build = time.perf_counter() - started
        started = time.perf_counter()
        pr = nx.pagerank(G, alpha=0.85, weight="weight", tol=tol / n, max_iter=1000)
        seconds = time.perf_counter() - started
        report(directory, "networkx", build, seconds, [pr[i] for i in range(n)])


if __name__ == "__main__":
    main()
