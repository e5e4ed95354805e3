import os

from pyspark import record


class _Writer:
    def __init__(self, model):
        self.model = model

    def overwrite(self):
        record("write.overwrite")
        return self

    def save(self, path):
        self.model.save(path)


class ALSModel:
    def __init__(self, params):
        self.params = params

    def write(self):
        return _Writer(self)

    def save(self, path):
        record("save", path=path)
        os.makedirs(os.path.join(path, "metadata"), exist_ok=True)


class ALS:
    def __init__(self, **params):
        record("ALS", params=params)
        self.params = params

    def fit(self, ratings):
        record("fit", ratings=ratings)
        return ALSModel(self.params)
