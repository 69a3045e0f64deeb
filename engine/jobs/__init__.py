"""Jobs: long work (training, style optimisation) submitted through one interface, run in the background."""
