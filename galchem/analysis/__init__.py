"""Analysis: the Bayesian line fit (and the deconvolution behind its corrected form), gradients in bins, smooth radial
splines, azimuthal variations and spiral arms."""
