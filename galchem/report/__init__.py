"""Report: figures, numbered page tables, the What-ran box, azimuthal test sentences, literature values and comparisons with the mock's truth."""
