"""Converters: each rewrites one kind of construct, reading what the analyses annotated."""
