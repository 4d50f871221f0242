"""Monte Carlo coverage studies and the paper's reproductions."""
