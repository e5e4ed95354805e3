from pyspark import record


class _Reader:
    def parquet(self, path):
        record("read.parquet", path=path)
        return {"source": path}

    def csv(self, path, header=False, schema=None):
        record("read.csv", path=path, header=header, columns=[f.name for f in schema.fields])
        return {"source": path}


class _Context:
    def setCheckpointDir(self, path):
        record("checkpointDir", path=path)


class SparkSession:
    version = "3.5.1-stub"

    class Builder:
        def appName(self, name):
            record("appName", name=name)
            return self

        def getOrCreate(self):
            return SparkSession()

    builder = Builder()

    def __init__(self):
        self.read = _Reader()
        self.sparkContext = _Context()

    def stop(self):
        record("stop")
