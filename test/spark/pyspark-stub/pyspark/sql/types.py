class _Type:
    def __init__(self):
        self.name = type(self).__name__


class IntegerType(_Type):
    pass


class FloatType(_Type):
    pass


class LongType(_Type):
    pass


class StructField:
    def __init__(self, name, dataType, nullable=True):
        self.name, self.dataType, self.nullable = name, dataType, nullable


class StructType:
    def __init__(self, fields):
        self.fields = fields
