#!/usr/bin/env python3
"""DiscoRank on Spark: the weighted PageRank of `rank::kernel`, on the DataFrame API.

Reads the graph `disco rank export-graph --format parquet DIR` wrote (edges.parquet: src, dst,
weight; personalization.parquet: index, value) and writes OUT/scores (Parquet: index, score)
and OUT/run.json, which `disco rank import OUT` turns into a rank version.

The conventions are networkx's and the Rust kernel's (rank/src/kernel.rs): row-normalized
weights, dangling mass and teleport both follow the personalization vector p, damping alpha,
power iteration from uniform scores (or --init),

    x'[v] = alpha * sum_{u->v} x[u] * w(u,v) / W(u)  +  (alpha * dangling(x) + (1 - alpha) * sum(x)) * p[v]

stopping when the L1 change of one iteration, (sum |x' - x| + |sum x' - sum x|) / sum x, falls
below --tolerance (networkx's tol times N), or after --max-iterations.

GraphX's PageRank ignores edge weights, hence joins and aggregations. Per iteration the edges
stay where they are: they are cached once, hash-partitioned by src, and the scores are
partitioned the same way by index, so the join of edges with scores moves nothing; the one
shuffle is the contributions x[u] * P(u,v), summed by dst within each partition first. Graphs
of at most --broadcast-max nodes broadcast the scores instead. Each iteration's scores are
checkpointed (locally, or to --checkpoint-dir), which keeps every iteration's plan the size of
the first.

    python rank/spark/discorank.py --graph DIR --out OUT [--init DIR/start.parquet]
"""

import argparse
import json
import os
import sys
import time
import urllib.request

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", required=True, help="directory written by `disco rank export-graph`")
    parser.add_argument("--out", required=True, help="output directory (scores/ and run.json)")
    parser.add_argument(
        "--init",
        help="start vector: Parquet with index and value (the export's start.parquet) or score "
        "(an earlier run's OUT/scores on the same graph); missing nodes start at 1/N",
    )
    parser.add_argument("--alpha", type=float, default=0.85)
    parser.add_argument("--tolerance", type=float, default=1e-9, help="L1 change that stops the iteration")
    parser.add_argument("--max-iterations", type=int, default=200)
    parser.add_argument(
        "--partitions", type=int, help="partitions of the edges and scores (default: spark.sql.shuffle.partitions)"
    )
    parser.add_argument(
        "--broadcast-max", type=int, default=100_000, help="broadcast the scores when there are at most this many nodes"
    )
    parser.add_argument(
        "--checkpoint-dir", help="reliable checkpoints here (a cluster's shared storage); default: local checkpoints"
    )
    parser.add_argument("--master", help="Spark master, e.g. local[2] (default: spark-submit's or local[*])")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark settings")
    parser.add_argument(
        "--metrics", action="store_true", help="record the shuffle written per iteration (from the Spark UI's REST API)"
    )
    return parser.parse_args()


def session(args):
    builder = SparkSession.builder.appName("discorank")
    if args.master:
        builder = builder.master(args.master)
    # Plans of an iterative job are the same every time: adaptive execution would only re-plan
    # them, and coalescing the shuffle's partitions would undo the co-partitioning below.
    builder = builder.config("spark.sql.adaptive.enabled", "false")
    # Each iteration leaves a local checkpoint behind; the driver's garbage collection is what
    # frees the ones no longer referenced, so let it run every minute, not every 30.
    builder = builder.config("spark.cleaner.periodicGC.interval", "1min")
    if not args.metrics:
        builder = builder.config("spark.ui.enabled", "false")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    for setting in args.conf:
        key, sep, value = setting.partition("=")
        if not sep:
            sys.exit(f"--conf {setting}: expected KEY=VALUE")
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if args.partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(args.partitions))
    if args.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(args.checkpoint_dir)
    return spark


def shuffle_written(spark):
    """Bytes and records written by every shuffle so far (the UI's REST API), or None."""
    url = spark.sparkContext.uiWebUrl
    if not url:
        return None
    app = spark.sparkContext.applicationId
    with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/stages?status=complete") as answer:
        stages = json.load(answer)
    return (
        sum(s.get("shuffleWriteBytes", 0) for s in stages),
        sum(s.get("shuffleWriteRecords", 0) for s in stages),
    )


def cached_bytes(spark, name):
    """Memory and disk held by the cached data set of that name (`getRDDStorageInfo`)."""
    for info in spark.sparkContext._jsc.sc().getRDDStorageInfo():
        if name in info.name():
            return info.memSize() + info.diskSize()
    return None


def main():
    args = parse_args()
    started = time.time()
    spark = session(args)
    partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
    graph = args.graph.rstrip("/")

    # Row-normalized edges, cached and partitioned by src for the life of the job.
    edges = spark.read.parquet(f"{graph}/edges.parquet")
    out_weight = edges.groupBy("src").agg(F.sum("weight").alias("out_weight"))
    links = (
        edges.join(out_weight, "src")
        .select("src", "dst", (F.col("weight") / F.col("out_weight")).alias("p"))
        .repartition(partitions, "src")
    )
    # Cached under a name, so that its size can be read back (cached_bytes).
    links.createOrReplaceTempView("discorank_links")
    spark.catalog.cacheTable("discorank_links", StorageLevel.MEMORY_AND_DISK)
    edge_count = links.count()

    # Per node: the normalized personalization, whether it is dangling, its starting score.
    personalization = spark.read.parquet(f"{graph}/personalization.parquet").select("index", "value")
    p_total, node_count = personalization.agg(F.sum("value"), F.count("*")).first()
    if not p_total or p_total <= 0:
        sys.exit(f"{graph}/personalization.parquet sums to {p_total}")
    nodes = personalization.join(out_weight.withColumnRenamed("src", "index"), "index", "left").select(
        "index",
        (F.col("value") / F.lit(p_total)).alias("pv"),
        F.col("out_weight").isNull().alias("dangling"),
    )
    if args.init:
        start = spark.read.parquet(args.init)
        column = "value" if "value" in start.columns else "score"
        nodes = nodes.join(start.select("index", F.col(column).alias("x")), "index", "left").select(
            "index", "pv", "dangling", F.coalesce("x", F.lit(1.0 / node_count)).alias("x")
        )
    else:
        nodes = nodes.withColumn("x", F.lit(1.0 / node_count))
    state = nodes.repartition(partitions, "index").persist(StorageLevel.MEMORY_AND_DISK)
    initial = state  # persisted until the first iteration's scores are checkpointed
    # The iteration is homogeneous (scaling x scales x' and leaves the residual alone), so the
    # start vector need not be normalized: only the scores written at the end are.
    total, dangling = state.agg(F.sum("x"), F.sum(F.when(F.col("dangling"), F.col("x")).otherwise(0.0))).first()
    if not total or total <= 0:
        sys.exit(f"{args.init}: the start vector sums to {total}")

    broadcast = node_count <= args.broadcast_max
    setup_seconds = time.time() - started
    shuffle_before = shuffle_written(spark) if args.metrics else None
    print(
        f"discorank: {node_count} nodes, {edge_count} edges, {partitions} partitions, "
        f"{'broadcast' if broadcast else 'co-partitioned'} scores; setup {setup_seconds:.1f} s",
        file=sys.stderr,
    )

    alpha = args.alpha
    iterations, residual, iteration_seconds = 0, float("inf"), []
    while iterations < args.max_iterations:
        tick = time.time()
        iterations += 1
        base = alpha * dangling + (1.0 - alpha) * total
        scores = state.select(F.col("index").alias("src"), "x")
        scores = F.broadcast(scores) if broadcast else scores.hint("shuffle_hash")
        pulled = (
            links.join(scores, "src")
            .groupBy("dst")
            .agg(F.sum(F.col("x") * F.col("p")).alias("pulled"))
            .withColumnRenamed("dst", "index")
        )
        joined = state.join(pulled.hint("shuffle_hash"), "index", "left")
        following = joined.select(
            "index",
            "pv",
            "dangling",
            (F.lit(alpha) * F.coalesce("pulled", F.lit(0.0)) + F.lit(base) * F.col("pv")).alias("x"),
            F.col("x").alias("old"),
        )
        # The new scores' plan holds the old scores' plan twice (in the join with the edges and
        # in the join with the sums), so it would double every iteration: cut it every time.
        # The checkpoint materializes the scores; the sums below read them back.
        following = (
            following.checkpoint(eager=True) if args.checkpoint_dir else following.localCheckpoint(eager=True)
        )
        if iterations == 1:
            initial.unpersist()
        change, next_total, next_dangling = following.agg(
            F.sum(F.abs(F.col("x") - F.col("old"))),
            F.sum("x"),
            F.sum(F.when(F.col("dangling"), F.col("x")).otherwise(0.0)),
        ).first()
        residual = (change + abs(next_total - total)) / total
        state = following.drop("old")
        total, dangling = next_total, next_dangling
        iteration_seconds.append(time.time() - tick)
        print(
            f"discorank: iteration {iterations}: residual {residual:.3e}, {iteration_seconds[-1]:.2f} s",
            file=sys.stderr,
        )
        if residual < args.tolerance:
            break

    shuffle = None
    if args.metrics:
        after = shuffle_written(spark)
        if shuffle_before and after:
            shuffle = {
                "bytes_per_iteration": (after[0] - shuffle_before[0]) / iterations,
                "records_per_iteration": (after[1] - shuffle_before[1]) / iterations,
            }

    write_started = time.time()
    out = args.out.rstrip("/")
    state.select(F.col("index").cast("long"), (F.col("x") / F.lit(total)).alias("score")).write.mode(
        "overwrite"
    ).parquet(f"{out}/scores")
    write_seconds = time.time() - write_started
    run = {
        "graph": os.path.abspath(graph),
        "init": os.path.abspath(args.init) if args.init else None,
        "iterations": iterations,
        "residual": residual,
        "converged": residual < args.tolerance,
        "alpha": alpha,
        "tolerance": args.tolerance,
        "seconds": time.time() - started,
        "nodes": node_count,
        "edges": edge_count,
        "partitions": partitions,
        "broadcast": broadcast,
        "master": spark.sparkContext.master,
        "spark": spark.version,
        "setup_seconds": setup_seconds,
        "iteration_seconds": iteration_seconds,
        "write_seconds": write_seconds,
        "cached_edge_bytes": cached_bytes(spark, "discorank_links"),
        "shuffle": shuffle,
    }
    os.makedirs(out, exist_ok=True)
    with open(f"{out}/run.json", "w") as f:
        json.dump(run, f, indent=2)
    print(
        f"discorank: {iterations} iterations, residual {residual:.3e}"
        f"{'' if run['converged'] else ' (NOT converged)'}; {run['seconds']:.1f} s; scores in {out}/scores",
        file=sys.stderr,
    )
    spark.stop()
    return 0 if run["converged"] else 2


if __name__ == "__main__":
    sys.exit(main())
