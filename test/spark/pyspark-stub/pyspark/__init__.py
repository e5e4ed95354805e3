"""A stand-in for PySpark in ridgerec's tests (no Spark on the test machines): records what
scripts/spark/train_als.py asks of Spark in the JSON file named by $PYSPARK_STUB_LOG."""
import json
import os

__version__ = "0.0-stub"


def record(event, **fields):
    path = os.environ.get("PYSPARK_STUB_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"event": event, **fields}) + "\n")
