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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System-library shims: a modulemap and one header each.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),

        .target(name: "StrataTensor", dependencies: ["CBLAS"]),
        .target(name: "StrataImage", dependencies: ["CJPEG", "CPNG", "StrataTensor"]),
        .target(name: "StrataText"),
        .target(name: "StrataModels", dependencies: ["StrataTensor"]),
        .target(name: "StrataCache", dependencies: ["CLMDB", "StrataTensor"]),
        .executableTarget(
            name: "strata",
            dependencies: [
                "StrataTensor", "StrataImage", "StrataText", "StrataModels", "StrataCache",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks against the Python peers: `bench/run NAME`.
        .executableTarget(
            name: "strata-bench",
            dependencies: ["StrataTensor", "StrataImage", "StrataText", "StrataModels", "StrataCache", "StrataTestSupport"],
            path: "bench/StrataBench"
        ),

        // Paths to ../shared and numeric comparison, for tests and benchmarks only.
        .target(name: "StrataTestSupport", dependencies: ["StrataTensor"]),

        .testTarget(name: "StrataTensorTests", dependencies: ["StrataTensor", "StrataTestSupport"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
