"""Nothing here on purpose: the options, fixtures and summary are the installed plugin's
(fastbert_variants/pytest_plugin.py, loaded through its pytest11 entry point), so a user's repository
and this one run the suite the same way. Install the package first: `pip install -e .`."""
