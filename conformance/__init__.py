"""Conformance of lbalgo's nginx and HAProxy balancers with the real programs (see README.md)."""
