"""Analyses: they only annotate or inspect the tree, never rewrite it."""
