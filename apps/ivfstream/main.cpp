// The `ivfstream` command line: a registry of subcommands. Each command lives in its own
// apps/ivfstream/<name>_command.{hpp,cpp} and exposes `void add_<name>_command(CLI::App&)`, which adds
// the subcommand, its options and its callback. To add a command: include its header, append its
// registrar to k_commands below, and add its .cpp to apps/CMakeLists.txt. Nothing else changes here.
#include <CLI/CLI.hpp>

#include "apps/ivfstream/bench_command.hpp"
#include "apps/ivfstream/serve_command.hpp"
#include "apps/ivfstream/demo_command.hpp"
#include "apps/ivfstream/inspect_command.hpp"
#include "apps/ivfstream/load_command.hpp"
#include "apps/ivfstream/query_command.hpp"

namespace {

/// Adds one subcommand (options + callback) to the top-level app.
using command_registrar = void (*)(CLI::App&);

/// Every subcommand, in the order `ivfstream --help` lists them.
constexpr command_registrar k_commands[] = {
    &ivfstream::apps::add_bench_command,
    &ivfstream::apps::add_serve_command,
    &ivfstream::apps::add_demo_command,
    &ivfstream::apps::add_load_command,
    &ivfstream::apps::add_query_command,
    &ivfstream::apps::add_inspect_command,
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ivfstream: a streaming IVF-PQ vector index (LanceDB IVF_PQ semantics)", "ivfstream"};
  app.set_version_flag("--version", IVFSTREAM_VERSION);
  app.require_subcommand(1);
  for (command_registrar add_command : k_commands) add_command(app);
  CLI11_PARSE(app, argc, argv);  // runs the chosen subcommand's callback; it reports failure via CLI::RuntimeError
  return 0;
}
