#!/usr/bin/env python3
"""Train Apache Spark MLlib's ALS on a `ridgerec export ratings` directory; save it for ridgerec.

    spark-submit scripts/spark/train_als.py EXPORT_DIR MODEL_DIR \
        [--feedback explicit|implicit] [--factors 64] [--lambda L] [--alpha 1] [--iterations 15] \
        [--seed 0] [--blocks N] [--checkpoint-dir DIR] [--overwrite]

EXPORT_DIR holds ratings.parquet (or ratings/ of CSV part files) with columns user_id int,
item_id int, value float, ts long, and the id maps users.parquet / items.parquet. MODEL_DIR gets
what `ALSModel.save` writes (metadata/, userFactors/, itemFactors/) plus the id maps and the
export's manifest copied beside it, and ridgerec.json (the parameters in Spark's and ridgerec's
terms: an ALSModel's own metadata keeps only its column names). Then, on the ridgerec side:

    ridgerec models import-spark MODEL_DIR [--activate]      or
    ridgerec retrain --candidate spark:MODEL_DIR

Parameters are given in ridgerec's terms and mapped one to one (see README, "When one machine is
not enough"): --factors → rank, --lambda → regParam (Spark scales it by each row's rating count,
which is ridgerec's --lambda-scaling count), --alpha → alpha, --iterations → maxIter,
--feedback implicit → implicitPrefs=True. Works with Spark 3.x and 4.x (classic and Connect).
"""
import argparse
import json
import os
import shutil
import sys

# ridgerec's count-scaled defaults: explicit 0.12 is its measured best on MovieLens 100K; for
# implicit feedback with count scaling its measured best was 0.08 (README, Training).
DEFAULT_LAMBDA = {"explicit": 0.12, "implicit": 0.08}
MAX_FACTORS = 1024
SIDE_FILES = ("users.parquet", "items.parquet", "export.json")


def _bounded(kind, name, low, high=None):
    def parse(raw):
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a{'n integer' if kind is int else ' number'}, got {raw!r}")
        if value != value or value < low or (high is not None and value > high):
            bound = f"in {low}..{high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"{name} must be {bound}, got {raw!r}")
        return value

    return parse


def build_parser():
    p = argparse.ArgumentParser(
        prog="train_als.py",
        description="Train Spark MLlib ALS on a ridgerec export and save the model for `ridgerec models import-spark`.",
    )
    p.add_argument("export_dir", help="directory written by `ridgerec export ratings`")
    p.add_argument("model_dir", help="where to save the ALSModel (local path, hdfs://, s3a://, …)")
    p.add_argument("--feedback", choices=("explicit", "implicit"), default="explicit", help="explicit ratings or implicit counts (default explicit)")
    p.add_argument("--factors", type=_bounded(int, "--factors", 1, MAX_FACTORS), default=64, help="rank, latent factors (default 64)")
    p.add_argument("--lambda", dest="lam", type=_bounded(float, "--lambda", 0.0), default=None,
                   help="regParam, scaled by each row's rating count (default 0.12 explicit, 0.08 implicit)")
    p.add_argument("--alpha", type=_bounded(float, "--alpha", 0.0), default=1.0, help="implicit confidence 1 + alpha*value (default 1)")
    p.add_argument("--iterations", type=_bounded(int, "--iterations", 1, 10000), default=15, help="maxIter (default 15)")
    p.add_argument("--seed", type=_bounded(int, "--seed", 0, 2**63 - 1), default=0, help="seed of the initialisation (default 0)")
    p.add_argument("--blocks", type=_bounded(int, "--blocks", 1), default=None, help="numUserBlocks = numItemBlocks (default: Spark's 10)")
    p.add_argument("--checkpoint-dir", default=None, help="checkpoint directory (long runs: cuts the lineage every 10 iterations)")
    p.add_argument("--overwrite", action="store_true", help="replace MODEL_DIR if it exists")
    return p


def parse_args(argv):
    args = build_parser().parse_args(argv)
    if args.lam is None:
        args.lam = DEFAULT_LAMBDA[args.feedback]
    return args


def als_params(args):
    """The keyword arguments of pyspark.ml.recommendation.ALS for the parsed arguments."""
    params = {
        "rank": args.factors,
        "maxIter": args.iterations,
        "regParam": args.lam,
        "implicitPrefs": args.feedback == "implicit",
        "alpha": args.alpha,
        "seed": args.seed,
        "userCol": "user_id",
        "itemCol": "item_id",
        "ratingCol": "value",
        "nonnegative": False,
        "coldStartStrategy": "drop",
    }
    if args.blocks is not None:
        params["numUserBlocks"] = args.blocks
        params["numItemBlocks"] = args.blocks
    return params


def ridgerec_json(args, spark_version):
    """What MODEL_DIR/ridgerec.json records: the parameters in both vocabularies."""
    return {
        "spark": {
            "implicitPrefs": args.feedback == "implicit",
            "rank": args.factors,
            "regParam": args.lam,
            "alpha": args.alpha,
            "maxIter": args.iterations,
            "seed": args.seed,
        },
        "ridgerec": {
            "feedback": args.feedback,
            "factors": args.factors,
            "lambda": args.lam,
            "lambdaScaling": "count",
            "alpha": args.alpha if args.feedback == "implicit" else 0,
            "iterations": args.iterations,
        },
        "sparkVersion": spark_version,
        "export": args.export_dir,
    }


def is_local(path):
    return "://" not in path or path.startswith("file://")


def local_path(path):
    return path[len("file://"):] if path.startswith("file://") else path


def exists(spark, path):
    """Whether a file exists, locally or on a Hadoop file system (assumed to when that cannot be asked)."""
    if is_local(path):
        return os.path.exists(local_path(path))
    jvm = getattr(spark, "_jvm", None)
    if jvm is None:
        return True
    p = jvm.org.apache.hadoop.fs.Path(path)
    return p.getFileSystem(spark._jsc.hadoopConfiguration()).exists(p)


def read_ratings(spark, export_dir):
    sep = "" if export_dir.endswith("/") else "/"
    parquet = export_dir + sep + "ratings.parquet"
    if not exists(spark, parquet):
        from pyspark.sql.types import FloatType, IntegerType, LongType, StructField, StructType

        schema = StructType([
            StructField("user_id", IntegerType(), False),
            StructField("item_id", IntegerType(), False),
            StructField("value", FloatType(), False),
            StructField("ts", LongType(), False),
        ])
        return spark.read.csv(export_dir + sep + "ratings", header=True, schema=schema)
    return spark.read.parquet(parquet)


def copy_beside(spark, export_dir, model_dir, text):
    """Copies the id maps and the manifest next to the model and writes ridgerec.json."""
    if is_local(export_dir) and is_local(model_dir):
        for name in SIDE_FILES:
            src = os.path.join(local_path(export_dir), name)
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(local_path(model_dir), name))
        with open(os.path.join(local_path(model_dir), "ridgerec.json"), "w") as f:
            f.write(text)
        return
    # Remote file systems (HDFS, S3, …) through Hadoop's FileSystem API (classic Spark only).
    jvm = getattr(spark, "_jvm", None)
    if jvm is None:
        raise SystemExit(
            "train_als.py: cannot copy the id maps to a remote MODEL_DIR from a Spark Connect session: "
            f"copy {', '.join(SIDE_FILES)} from {export_dir} to {model_dir} yourself"
        )
    conf = spark._jsc.hadoopConfiguration()
    Path = jvm.org.apache.hadoop.fs.Path
    for name in SIDE_FILES:
        src = Path(export_dir.rstrip("/") + "/" + name)
        src_fs = src.getFileSystem(conf)
        if src_fs.exists(src):
            dst = Path(model_dir.rstrip("/") + "/" + name)
            jvm.org.apache.hadoop.fs.FileUtil.copy(src_fs, src, dst.getFileSystem(conf), dst, False, True, conf)
    dst = Path(model_dir.rstrip("/") + "/ridgerec.json")
    out = dst.getFileSystem(conf).create(dst, True)
    out.write(bytearray(text.encode("utf-8")))
    out.close()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Imported here so that --help and the argument checks work without Spark installed.
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("ridgerec-train-als").getOrCreate()
    if args.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(args.checkpoint_dir)
    ratings = read_ratings(spark, args.export_dir)
    model = ALS(**als_params(args)).fit(ratings)
    if args.overwrite:
        model.write().overwrite().save(args.model_dir)
    else:
        model.save(args.model_dir)
    copy_beside(spark, args.export_dir, args.model_dir, json.dumps(ridgerec_json(args, spark.version), indent=2) + "\n")
    print(f"train_als.py: saved ALS model (rank {args.factors}, regParam {args.lam}, "
          f"{'implicit, alpha ' + str(args.alpha) if args.feedback == 'implicit' else 'explicit'}, "
          f"{args.iterations} iterations) to {args.model_dir}")
    print(f"next: ridgerec models import-spark {args.model_dir}   or   ridgerec retrain --candidate spark:{args.model_dir}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
