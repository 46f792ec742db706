"""The tasklang version, in its own module: the modules that write it (manifests, reports,
`--version`) import it from here, so nothing imports the package root, which is the facade
that imports the API."""

__version__ = "0.1.0"
