#pragma once
// `ivfstream load`: reads vectors from an .fvecs/.bvecs/.npy file and produces them as upsert records
// to the vectors topic of a running service, with progress.
namespace CLI {
class App;
}

namespace ivfstream::apps {

/// Registers the `load` subcommand. Failure exits through CLI::RuntimeError(1).
void add_load_command(CLI::App& app);

}  // namespace ivfstream::apps
