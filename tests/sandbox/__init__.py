"""Tests of the Zoom API sandbox itself."""
