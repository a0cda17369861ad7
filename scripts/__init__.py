"""Developer scripts: fuzzing the local stack and the benchmarks (`make fuzz`, `make bench`)."""
