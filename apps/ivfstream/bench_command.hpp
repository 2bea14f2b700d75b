#pragma once
// `ivfstream bench`: builds an IVF-PQ index over a base file and prints recall@10 / QPS / build cost as
// CSV rows that follow the harness contract in ../shared/bench/README.md, so that the same scripts run it
// beside FAISS (../shared/bench/run_third.sh ivfstream build/apps/ivfstream bench).
namespace CLI {
class App;
}

namespace ivfstream::apps {

/// Registers the `bench` subcommand (its options and its callback) on the top-level app. Call once from
/// main(), before parsing. The callback exits through CLI::RuntimeError(code) on failure: 1 for a data or
/// index error, 2 for a bad option value; the message is on stderr, the CSV on stdout.
void add_bench_command(CLI::App& app);

}  // namespace ivfstream::apps
