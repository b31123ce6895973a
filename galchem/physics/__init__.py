"""Physics: Galactocentric frames, Monte Carlo kinematics and kinematic membership."""
