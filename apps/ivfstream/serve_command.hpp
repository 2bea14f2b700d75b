#pragma once
// `ivfstream serve`: one node of the streaming service. Starts the embedded Kafka broker (default)
// or connects to --brokers, opens the engine on --data-dir (restoring its newest checkpoint),
// consumes the vectors topic, answers the queries topic, checkpoints periodically and on SIGTERM/SIGINT.
namespace CLI {
class App;
}

namespace ivfstream::apps {

/// Registers the `serve` subcommand. Failure exits through CLI::RuntimeError(1) (message on stderr).
void add_serve_command(CLI::App& app);

}  // namespace ivfstream::apps
