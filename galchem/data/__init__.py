"""Data in: the input contract, survey files, file readers, the mock Galaxy, the archives and the cuts."""
