"""What the feature service keeps per core thread: the counters thread lists show."""
