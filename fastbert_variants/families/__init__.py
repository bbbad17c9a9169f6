"""The variant families shipped with the package, one module each, found through the `fastbert_variants.families`
entry points (pyproject.toml) as a third party's are. No family imports another: what they share is in `variants`."""
