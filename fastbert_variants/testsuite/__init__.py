"""The suite's tests, shipped in the package: `pytest --pyargs fastbert_variants.testsuite --fastbert-model ... --fastbert-dataset ...`.

Their options and fixtures come from the plugin (fastbert_variants.pytest_plugin); this repository's
benchmarks/ and accuracy/ import these same tests.
"""
