"""Report: figures, numbered page tables, literature values and comparisons with the mock's truth."""
