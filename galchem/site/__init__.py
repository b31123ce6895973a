"""The book's site: the builder (papermill, then Jupyter Book), its downloads and config, the Run-this-chapter box and a small Sphinx extension."""
