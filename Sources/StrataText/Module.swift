/// Module StrataText: see README.md for its job.
public enum StrataTextModule {}
