/// Module StrataCache: see README.md for its job.
public enum StrataCacheModule {}
