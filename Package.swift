// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Strata",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "strata", targets: ["strata"]),
        .library(name: "StrataTensor", targets: ["StrataTensor"]),
        .library(name: "StrataImage", targets: ["StrataImage"]),
        .library(name: "StrataText", targets: ["StrataText"]),
        .library(name: "StrataModels", targets: ["StrataModels"]),
        .library(name: "StrataCache", targets: ["StrataCache"]),
        .library(name: "StrataData", targets: ["StrataData"]),
        .library(name: "StrataPipeline", targets: ["StrataPipeline"]),
        .library(name: "StrataAutodiff", targets: ["StrataAutodiff"]),
        .library(name: "StrataTrain", targets: ["StrataTrain"]),
        .library(name: "StrataSchema", targets: ["StrataSchema"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // `swift package generate-documentation` (`make docs`); no target depends on it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // System-library shims: a modulemap and one header each.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),

        // AVX-512 kernels (packed sgemm, GELU) and F16C half widening, chosen at run time on CPUs that have them.
        .target(name: "CStrataKernels"),
        .target(name: "StrataTensor", dependencies: ["CBLAS", "CStrataKernels"]),
        .target(name: "StrataImage", dependencies: ["CJPEG", "CPNG", "StrataTensor"]),
        .target(name: "StrataText"),
        .target(name: "StrataModels", dependencies: ["StrataTensor"]),
        .target(name: "StrataCache", dependencies: ["CLMDB", "CStrataKernels", "StrataTensor", "StrataSchema"]),
        .target(name: "StrataData"),
        // The JSON Schema subset Strata's schemas use, and key-by-key document comparison.
        .target(name: "StrataSchema", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Reverse-mode autodiff: the tape, ops, layers, optimisers and losses heads are built from.
        .target(name: "StrataAutodiff", dependencies: ["StrataTensor"]),
        .target(name: "StrataTrain", dependencies: [
            "StrataTensor",
            "StrataAutodiff",
            "StrataCache",
            "StrataSchema",
            .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "StrataPipeline", dependencies: [
            "StrataTensor", "StrataImage", "StrataText", "StrataModels", "StrataCache", "StrataData", "StrataSchema",
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(
            name: "strata",
            dependencies: [
                "StrataTensor", "StrataImage", "StrataText", "StrataModels", "StrataCache", "StrataData", "StrataPipeline",
                "StrataTrain", "StrataSchema",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks against the Python peers: `bench/run NAME`.
        .target(name: "CFMAPeak", path: "bench/CFMAPeak"),
        .executableTarget(
            name: "strata-bench",
            dependencies: ["StrataTensor", "StrataImage", "StrataText", "StrataModels", "StrataCache", "StrataAutodiff", "StrataTrain", "StrataTestSupport",
                           "StrataPipeline", "CFMAPeak"],
            path: "bench/StrataBench"
        ),

        // Paths to ../shared, numeric comparison and synthetic caches, for tests and benchmarks only.
        .target(name: "StrataTestSupport", dependencies: ["StrataTensor", "StrataCache", "StrataAutodiff"]),
        // Swift Testing expectations the test targets share (fixture tensors by name, numeric conformance).
        .target(name: "StrataTestExpectations", dependencies: ["StrataTensor", "StrataTestSupport"]),
        // The harnesses tests and benchmarks run as processes (synthetic caches, the fork probe); not shipped in `strata`.
        .executableTarget(
            name: "strata-dev",
            dependencies: ["StrataCache", "StrataTestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        .testTarget(name: "StrataTensorTests", dependencies: ["StrataTensor", "StrataTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "StrataPipelineTests", dependencies: ["StrataPipeline", "StrataTestSupport"]),
        .testTarget(name: "StrataDataTests", dependencies: ["StrataData", "StrataTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "StrataTextTests", dependencies: ["StrataText", "StrataTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StrataImageTests", dependencies: ["StrataImage", "StrataTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "StrataCacheTests", dependencies: ["StrataCache", "StrataTestSupport"]),
        .testTarget(name: "StrataAutodiffTests", dependencies: ["StrataAutodiff", "StrataTestExpectations"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "StrataTrainTests", dependencies: [
            "StrataTrain",
            "StrataAutodiff",
            "StrataTestSupport",
            "StrataTestExpectations",
            "StrataCache",
        ], exclude: ["Fixtures"]),
        .testTarget(name: "StrataModelsTests", dependencies: ["StrataModels", "StrataTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "StrataSchemaTests", dependencies: ["StrataSchema"]),
    ],
    swiftLanguageModes: [.v5]
)
