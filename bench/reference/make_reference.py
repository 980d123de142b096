#!/usr/bin/env python3
"""Reference PageRank scores the rank crate's tests compare against.

Writes into rank/reference/ (the rank tests read them from there):
  wiki-vote.scores.tsv   networkx.pagerank of datasets/wiki-vote.csv (unweighted)
  synthetic.edges.tsv    a small weighted graph with dangling, isolated and self-loop nodes
  synthetic.scores.tsv   networkx.pagerank of that graph, weight="weight"
Both with alpha=0.85, tol=1e-12/N (networkx stops when the L1 change < N*tol, i.e. < 1e-12).
Scores are written with repr() (shortest round-trip form, at most 17 significant digits).
python-igraph's PRPACK is run on the same graphs as a cross-check; its L1 distance is printed.

Run:  python3 -m venv /tmp/rankref && /tmp/rankref/bin/pip install networkx python-igraph scipy numpy
      /tmp/rankref/bin/python bench/reference/make_reference.py
"""
import csv
import os
import random

import igraph
import networkx as nx

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
WIKI = os.path.join(ROOT, "datasets", "wiki-vote.csv")
OUT = os.path.join(ROOT, "rank", "reference")


def reference(G):
    n = G.number_of_nodes()
    return nx.pagerank(G, alpha=0.85, weight="weight", tol=1e-12 / n, max_iter=10_000)


def igraph_l1(G, scores):
    nodes = sorted(G.nodes())
    index = {v: i for i, v in enumerate(nodes)}
    edges = [(index[u], index[v]) for u, v in G.edges()]
    weights = [d.get("weight", 1.0) for _, _, d in G.edges(data=True)]
    g = igraph.Graph(n=len(nodes), edges=edges, directed=True)
    pr = g.pagerank(weights=weights, damping=0.85, implementation="prpack")
    return sum(abs(pr[index[v]] - scores[v]) for v in nodes)


def write_scores(path, scores):
    with open(path, "w") as out:
        out.write("node\tscore\n")
        for node in sorted(scores):
            out.write(f"{node}\t{scores[node]!r}\n")


def wiki_vote():
    G = nx.DiGraph()
    with open(WIKI) as f:
        for row in csv.DictReader(f):
            G.add_edge(int(row["from"]), int(row["to"]), weight=1.0)
    scores = reference(G)
    write_scores(os.path.join(OUT, "wiki-vote.scores.tsv"), scores)
    print(f"wiki-vote: {G.number_of_nodes()} nodes, {G.number_of_edges()} edges, "
          f"L1(networkx, igraph prpack) = {igraph_l1(G, scores):.3e}")


def synthetic():
    rng = random.Random(20261121)
    n = 400
    dangling = set(rng.sample(range(n), 40))  # no out-edges: their mass follows teleport
    isolated = set(rng.sample(sorted(set(range(n)) - dangling), 10))  # no edges at all
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    sources = [v for v in range(n) if v not in dangling and v not in isolated]
    targets = [v for v in range(n) if v not in isolated]
    for u in sources:
        for _ in range(rng.randint(1, 12)):
            # Skewed targets, as activity is: low node numbers are popular.
            v = targets[int(len(targets) * rng.random() ** 2)]
            w = rng.randint(1, 10) * 0.5  # exact in f32, as the rank graph stores weights
            if G.has_edge(u, v):
                G[u][v]["weight"] += w
            else:
                G.add_edge(u, v, weight=w)
    for u in rng.sample(sources, 5):
        G.add_edge(u, u, weight=2.0)  # self-loops count like any edge in networkx
    with open(os.path.join(OUT, "synthetic.edges.tsv"), "w") as out:
        out.write(f"# nodes {n}\nsrc\tdst\tweight\n")
        for u, v, d in sorted(G.edges(data=True)):
            out.write(f"{u}\t{v}\t{d['weight']!r}\n")
    scores = reference(G)
    write_scores(os.path.join(OUT, "synthetic.scores.tsv"), scores)
    print(f"synthetic: {n} nodes, {G.number_of_edges()} edges, {len(dangling)} dangling, "
          f"{len(isolated)} isolated, L1(networkx, igraph prpack) = {igraph_l1(G, scores):.3e}")


if __name__ == "__main__":
    print(f"networkx {nx.__version__}, python-igraph {igraph.__version__}")
    wiki_vote()
    synthetic()
