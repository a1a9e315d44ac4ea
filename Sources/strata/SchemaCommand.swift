import ArgumentParser
import StrataPipeline

/// `strata schema`: prints the JSON Schemas Strata validates against.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print a JSON Schema (schemas/pipeline.schema.json is `strata schema pipeline`)."
    )

    /// Which schema to print.
    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case pipeline
    }

    @Argument(help: "The schema: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var kind: Kind

    func run() {
        switch kind {
        case .pipeline: print(PipelineSchema.json)
        }
    }
}
