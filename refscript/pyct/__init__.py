"""Python-to-Python tooling with no JAX in it: parsing, annotations, naming,
templates, analyses, unparsing and loading of generated code."""
