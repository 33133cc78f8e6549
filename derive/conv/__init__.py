"""The mathematics of convolution, modelled as indexed sums; every function returns SymPy
objects for symbolic input and plain integers for integer input."""
