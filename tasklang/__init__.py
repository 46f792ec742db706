"""tasklang: declarative `.task` files -> verified synthetic datasets, graded by the trace runtime."""

__version__ = "0.1.0"
