"""jacobian_lab — derive, show, check and run the matrix calculus of neural networks."""
