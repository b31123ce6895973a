"""The book builder: papermill execution and the Jupyter Book site, apart from the science."""
