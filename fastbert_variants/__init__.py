"""fastbert-variants: build, time and score optimized inference variants of a BERT classifier."""

__version__ = "0.1.0"
