#pragma once
// `ivfstream inspect`: what a data directory's newest checkpoint holds (codebook version, index
// parameters, partitions, list sizes, Kafka offsets) and, given the brokers, the lag of each
// vectors-topic partition behind the checkpoint.
namespace CLI {
class App;
}

namespace ivfstream::apps {

/// Registers the `inspect` subcommand. Failure exits through CLI::RuntimeError(1).
void add_inspect_command(CLI::App& app);

}  // namespace ivfstream::apps
