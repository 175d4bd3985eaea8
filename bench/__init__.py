"""Trade Hunter benchmarks (not part of the test suite): ``.venv/bin/python -m bench``.

Each figure runs in its own child process, side by side with its reference, and the suite
prints a table and writes docs/PERFORMANCE.md. See bench/__main__.py.
"""
