"""`python -m benchmarks` (`make bench`): the 2019 hands-on's code against ours on real MNIST."""
