#pragma once
// `ivfstream demo`: the README's first command. One process: embedded Kafka broker, the streaming
// service, a producer that streams Fashion-MNIST (or a synthetic set) through the vectors topic, and a
// client that asks queries through the queries topic. Prints recall@10 against brute force, ingest
// rate, freshness (produce → searchable) and query latency percentiles (topic and embedded API).
namespace CLI {
class App;
}

namespace ivfstream::apps {

/// Registers the `demo` subcommand. Failure exits through CLI::RuntimeError(1).
void add_demo_command(CLI::App& app);

}  // namespace ivfstream::apps
