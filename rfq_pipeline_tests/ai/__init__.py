"""Tests of the AI stages."""
