"""lbalgo's test suite, a package: test modules import ``tests.support`` and ``tests.reference``."""
