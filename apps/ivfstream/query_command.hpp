#pragma once
// `ivfstream query`: reads query vectors from a file, sends them through the queries topic of a running
// service and prints the replies (ids and distances), with round-trip latency.
namespace CLI {
class App;
}

namespace ivfstream::apps {

/// Registers the `query` subcommand. Failure exits through CLI::RuntimeError(1).
void add_query_command(CLI::App& app);

}  // namespace ivfstream::apps
