"""A run: one frozen configuration, the pipeline's stages and their verified cache."""
