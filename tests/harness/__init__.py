"""Real processes on 127.0.0.1 for end-to-end tests and benchmarks.

Every process started here is stopped by its context manager (or ``stop``), even when
the test fails, and every port is a free loopback port.
"""
