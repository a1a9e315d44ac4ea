/// Module StrataImage: see README.md for its job.
public enum StrataImageModule {}
