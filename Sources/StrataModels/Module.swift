/// Module StrataModels: see README.md for its job.
public enum StrataModelsModule {}
