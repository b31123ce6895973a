"""Physics: Galactocentric frames, distances, Monte Carlo kinematics and kinematic membership."""
