"""Object tracks without detector weights: camera-compensated background subtraction, components,
association (`track`); trajectories from stronger models (`tracks.import`)."""
