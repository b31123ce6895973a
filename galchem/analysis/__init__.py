"""Analysis: the Bayesian line fit, gradients in bins, azimuthal variations and spiral arms."""
