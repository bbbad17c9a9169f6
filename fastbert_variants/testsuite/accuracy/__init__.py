"""The accuracy gates of every variant against FP32, and the properties every variant must keep."""
