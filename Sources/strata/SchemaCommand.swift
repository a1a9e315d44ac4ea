import ArgumentParser
import StrataPipeline
import StrataTrain

/// `strata schema`: prints the JSON Schemas Strata validates against.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print a JSON Schema (schemas/pipeline.schema.json is `strata schema pipeline`, schemas/head.schema.json `strata schema head`)."
    )

    /// Which schema to print.
    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case pipeline
        case head
    }

    @Argument(help: "The schema: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var kind: Kind

    func run() {
        switch kind {
        case .pipeline: print(PipelineSchema.json)
        case .head: print(HeadSchema.json)
        }
    }
}
