/// Errors from reading a schema or a document checked against one.
public enum SchemaError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The schema itself is not a JSON object (a defect of the program, not of the user's file).
    case invalidSchema(reason: String)

    public var description: String {
        switch self {
        case let .invalidSchema(reason):
            return "schema: \(reason)"
        }
    }
}
