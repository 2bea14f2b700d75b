// What `ivfstream serve` exposes: it listens on the loopback interface only (the embedded broker, the
// peer link when peers are enabled, anything else in the process), and secret Kafka properties
// (sasl.password, ssl.key.password, ...) never appear in its output: not in the printed config, not
// in librdkafka's log lines, not in the error of a config that fails. Runs the real binary on the
// embedded broker.
#define BOOST_TEST_MODULE serve_security
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// Secret values used below: long and distinctive, so a hit can only be a leak.
const std::vector<std::pair<std::string, std::string>> k_secrets = {
    {"sasl.password", "SaslPw-4e1f9c77-leak"},
    {"ssl.key.password", "SslKeyPw-8b2d31aa-leak"},
    {"ssl.keystore.password", "KeystorePw-51c0e6d2-leak"},
    {"sasl.oauthbearer.config", "principal=ivf OauthCfg-a93f07b4-leak"},
};

struct scratch_dir {
  fs::path path;
  explicit scratch_dir(const std::string& tag)
      : path(fs::temp_directory_path() / ("ivf_serve_security_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~scratch_dir() { fs::remove_all(path); }
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::string& binary() {
  static const std::string bin = std::string(IVFSTREAM_BINARY_DIR) + "/apps/ivfstream";
  return bin;
}

/// `ivfstream <args>` with stdout and stderr both appended to `log`. Killed (SIGKILL) and reaped
/// by the destructor if still running.
struct process {
  pid_t pid = -1;
  process(std::vector<std::string> args, const fs::path& log) {
    args.insert(args.begin(), binary());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    const int rc = posix_spawn(&pid, binary().c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    BOOST_REQUIRE_EQUAL(rc, 0);
  }
  /// Exit status; -1 if it did not exit normally, -2 if it was still running after `limit` (then
  /// it is killed). `sig` (if > 0) is sent first.
  int wait(int sig = 0, std::chrono::seconds limit = std::chrono::seconds(120)) {
    if (pid <= 0) return status;
    if (sig > 0) ::kill(pid, sig);
    int st = 0;
    const auto until = std::chrono::steady_clock::now() + limit;
    while (waitpid(pid, &st, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        pid = -1;
        return -2;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  /// True once the process has ended (it is then reaped; exit_status() says how).
  bool exited() {
    if (pid <= 0) return true;
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) != pid) return false;
    pid = -1;
    status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return true;
  }
  int status = -1;
  ~process() {
    if (pid > 0) wait(SIGKILL, std::chrono::seconds(30));
  }
};

/// Runs `ivfstream <args>` to completion; returns {exit status, stdout + stderr}.
std::pair<int, std::string> run_to_end(const std::vector<std::string>& args, const fs::path& dir) {
  const fs::path log = dir / "run.log";
  fs::remove(log);
  process p(args, log);
  const int rc = p.wait();
  return {rc, read_text(log)};
}

/// The secrets of k_secrets that occur in `text` (empty = none leaked).
std::string leaked(const std::string& text) {
  std::string out;
  for (const auto& [name, value] : k_secrets)
    if (text.find(value) != std::string::npos) out += name + " ";
  return out;
}

/// `--set kafka.properties.<name>=<value>` for every secret.
std::vector<std::string> secret_overrides() {
  std::vector<std::string> out;
  for (const auto& [name, value] : k_secrets) {
    out.push_back("--set");
    out.push_back("kafka.properties." + name + "=" + value);
  }
  return out;
}

std::vector<std::string> small_index() {
  return {"--set", "index.dimension=8", "--set", "index.num_partitions=4", "--set", "index.num_sub_vectors=2",
          "--set", "kafka.topic_partitions=1"};
}

/// A socket of /proc/net/{tcp,tcp6,udp,udp6}: its local address (hex, as the kernel writes it) and state.
struct net_socket {
  std::string table, local_address, state;
};

/// Every socket of the network namespace, by inode.
std::map<std::string, net_socket> net_sockets() {
  std::map<std::string, net_socket> out;
  for (const char* table : {"tcp", "tcp6", "udp", "udp6"}) {
    std::ifstream in(std::string("/proc/net/") + table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      std::istringstream fields(line);
      std::string sl, local, remote, st, queues, timer, retr, uid, timeout, inode;
      if (fields >> sl >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode)
        out[inode] = {table, local, st};
    }
  }
  return out;
}

/// Inodes of the sockets that process `pid` holds open.
std::set<std::string> socket_inodes(pid_t pid) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code rec;
    const std::string target = fs::read_symlink(e.path(), rec).string();
    if (!rec && target.rfind("socket:[", 0) == 0) out.insert(target.substr(8, target.size() - 9));
  }
  return out;
}

/// True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z in /proc/net's hex notation (host byte order per
/// 32-bit word, i.e. little-endian here: 127.0.0.1 is "0100007F").
bool is_loopback(const std::string& hex_address) {
  const std::string ip = hex_address.substr(0, hex_address.find(':'));
  if (ip.size() == 8) return ip.substr(6, 2) == "7F";
  if (ip.size() == 32) {
    if (ip == "00000000000000000000000001000000") return true;  // ::1
    return ip.substr(0, 24) == "0000000000000000FFFF0000" && ip.substr(30, 2) == "7F";
  }
  return false;
}

/// The local port of a /proc/net local_address ("0100007F:1CE8" -> 7400).
unsigned port_of(const std::string& hex_address) {
  return static_cast<unsigned>(std::stoul(hex_address.substr(hex_address.find(':') + 1), nullptr, 16));
}

/// The TCP listening and UDP bound sockets that process `pid` holds (connections left out).
std::vector<net_socket> listening_sockets(pid_t pid) {
  const auto sockets = net_sockets();
  std::vector<net_socket> out;
  for (const std::string& inode : socket_inodes(pid)) {
    auto it = sockets.find(inode);
    if (it == sockets.end()) continue;  // a unix or netlink socket
    const net_socket& s = it->second;
    const bool tcp_listen = s.table.rfind("tcp", 0) == 0 && s.state == "0A";
    const bool udp_bound = s.table.rfind("udp", 0) == 0;
    if (tcp_listen || udp_bound) out.push_back(s);
  }
  return out;
}

/// The port serve printed for its peer link ("ivfstream serve: peers bind=... port=N ..."), 0 if
/// not (yet) printed.
unsigned printed_peer_port(const std::string& log) {
  const std::string tag = "ivfstream serve: peers bind=";
  const auto at = log.find(tag);
  if (at == std::string::npos) return 0;
  const auto p = log.find(" port=", at);
  if (p == std::string::npos) return 0;
  return static_cast<unsigned>(std::strtoul(log.c_str() + p + 6, nullptr, 10));
}

}  // namespace

BOOST_AUTO_TEST_CASE(serve_listens_on_loopback_only) {
  scratch_dir dir("listen");
  process serve({"serve", "--embedded-broker", "--data-dir", (dir.path / "data").string(), "--bootstrap-file",
                 (dir.path / "boot").string(), "--stats-file", (dir.path / "stats").string(), "--stats-interval",
                 "0", "--set", "index.dimension=8", "--set", "index.num_partitions=4", "--set",
                 "index.num_sub_vectors=2", "--set", "kafka.topic_partitions=1"},
                dir.path / "serve.log");
  // Serving = the bootstrap file and a first stats file are written (generous: ASan on a loaded box).
  for (int i = 0; i < 3000 && !serve.exited() && !(fs::exists(dir.path / "boot") && fs::exists(dir.path / "stats")); ++i)
    std::this_thread::sleep_for(20ms);
  BOOST_REQUIRE_MESSAGE(fs::exists(dir.path / "stats"), "serve did not start: " << read_text(dir.path / "serve.log"));

  int listening = 0;
  for (const net_socket& s : listening_sockets(serve.pid)) {
    listening += s.table.rfind("tcp", 0) == 0 && s.state == "0A";
    BOOST_TEST(is_loopback(s.local_address), "serve has a socket bound to a non-loopback address: /proc/net/"
                                                 << s.table << " local_address " << s.local_address);
  }
  // The embedded broker listens; if this finds none, the check above checked nothing.
  BOOST_TEST(listening >= 1, "no listening socket found for serve (pid " << serve.pid << ")");
  BOOST_TEST(serve.wait(SIGTERM) == 0, read_text(dir.path / "serve.log"));
}

BOOST_AUTO_TEST_CASE(printed_config_masks_secrets) {
  scratch_dir dir("print");
  std::vector<std::string> args = {"serve", "--embedded-broker", "--print-config"};
  for (auto& a : secret_overrides()) args.push_back(a);
  auto [rc, out] = run_to_end(args, dir.path);
  BOOST_TEST(rc == 0, out);
  BOOST_TEST(leaked(out).empty(), "leaked " << leaked(out) << "in:\n" << out);
  BOOST_TEST(out.find("\"sasl.password\" = \"********\"") != std::string::npos, out);
  BOOST_TEST(out.find("\"ssl.key.password\" = \"********\"") != std::string::npos, out);

  // The same from a TOML file.
  std::ofstream(dir.path / "secrets.toml") << "[kafka.properties]\n"
                                              "\"sasl.password\" = \""
                                           << k_secrets[0].second << "\"\nssl.key.password = \"" << k_secrets[1].second
                                           << "\"\n";
  auto [rc2, out2] = run_to_end({"serve", "--embedded-broker", "--print-config", "--config",
                                 (dir.path / "secrets.toml").string()},
                                dir.path);
  BOOST_TEST(rc2 == 0, out2);
  BOOST_TEST(leaked(out2).empty(), "leaked " << leaked(out2) << "in:\n" << out2);
  BOOST_TEST(out2.find("\"ssl.key.password\" = \"********\"") != std::string::npos, out2);
}

BOOST_AUTO_TEST_CASE(secrets_never_appear_in_serve_output) {
  // A full serve run with every secret set (unused on the plaintext embedded broker, but handed to
  // every librdkafka client), stats lines on, then SIGTERM: nothing it prints names a secret value.
  scratch_dir dir("serve");
  std::vector<std::string> args = {"serve", "--embedded-broker", "--data-dir", (dir.path / "data").string(),
                                   "--stats-file", (dir.path / "stats").string(), "--stats-interval", "0.2"};
  for (auto& a : small_index()) args.push_back(a);
  for (auto& a : secret_overrides()) args.push_back(a);
  process serve(args, dir.path / "serve.log");
  for (int i = 0; i < 3000 && !serve.exited() && !fs::exists(dir.path / "stats"); ++i)
    std::this_thread::sleep_for(20ms);
  BOOST_REQUIRE_MESSAGE(fs::exists(dir.path / "stats"), "serve did not start: " << read_text(dir.path / "serve.log"));
  // Let a few stats lines (and any librdkafka warnings) reach the log.
  std::this_thread::sleep_for(1s);
  BOOST_TEST(serve.wait(SIGTERM) == 0);
  const std::string out = read_text(dir.path / "serve.log");
  BOOST_TEST(out.find("ivfstream serve: bootstrap=") != std::string::npos, out);  // it did print
  BOOST_TEST(leaked(out).empty(), "leaked " << leaked(out) << "in:\n" << out);
}

BOOST_AUTO_TEST_CASE(config_errors_never_show_secret_values) {
  scratch_dir dir("errors");
  // `names`: a fragment the error must contain, so that each case fails for its own reason.
  auto expect_failure_without_leak = [&](const std::vector<std::string>& args, const std::string& what,
                                         const std::string& names) {
    auto [rc, out] = run_to_end(args, dir.path);
    BOOST_TEST(rc != 0, what << ": expected a failure, got:\n" << out);
    BOOST_TEST(out.find(names) != std::string::npos, what << ": the error does not name '" << names << "':\n" << out);
    BOOST_TEST(leaked(out).empty(), what << ": leaked " << leaked(out) << "in:\n" << out);
  };
  std::vector<std::string> base = {"serve", "--embedded-broker", "--stats-interval", "0"};
  for (auto& a : small_index()) base.push_back(a);
  for (auto& a : secret_overrides()) base.push_back(a);

  // librdkafka refuses a property: the error is built while every secret is in the client config.
  auto bad_property = base;
  bad_property.insert(bad_property.end(), {"--set", "kafka.properties.no.such.property=1"});
  expect_failure_without_leak(bad_property, "unknown librdkafka property", "no.such.property");

  // librdkafka refuses a secret's own value (a PEM key that does not parse).
  auto bad_pem = base;
  bad_pem.insert(bad_pem.end(), {"--set", "kafka.properties.security.protocol=SSL", "--set",
                                 "kafka.properties.ssl.key.pem=" + k_secrets[0].second});
  expect_failure_without_leak(bad_pem, "unparsable ssl.key.pem", "ssl");

  // A config file whose secret line is not valid TOML, and one whose secret has a type TOML allows
  // but kafka.properties does not.
  std::ofstream(dir.path / "broken.toml") << "[kafka.properties]\nsasl.password = \"" << k_secrets[0].second
                                          << "\n";
  expect_failure_without_leak({"serve", "--embedded-broker", "--config", (dir.path / "broken.toml").string()},
                              "unterminated string in a config file", "broken.toml");
  std::ofstream(dir.path / "array.toml") << "[kafka.properties]\nssl.key.password = [\"" << k_secrets[1].second
                                         << "\"]\n";
  expect_failure_without_leak({"serve", "--embedded-broker", "--config", (dir.path / "array.toml").string()},
                              "array-valued secret in a config file", "ssl.key.password");
  // A validation error elsewhere in the config while the secrets are set.
  auto bad_index = base;
  bad_index.insert(bad_index.end(), {"--set", "index.num_bits=7"});
  expect_failure_without_leak(bad_index, "invalid index.num_bits", "num_bits");
}

// With peers enabled and peers.bind left at its default, the peer link (CAF's middleman, plain
// unauthenticated TCP) listens on loopback only: the port serve prints is a listening socket of the
// process on 127.0.0.0/8 or ::1, and so is every other socket it binds.
BOOST_AUTO_TEST_CASE(serve_peer_port_listens_on_loopback_only) {
  scratch_dir dir("peers");
  std::vector<std::string> args = {"serve", "--embedded-broker", "--data-dir", (dir.path / "data").string(),
                                   "--bootstrap-file", (dir.path / "boot").string(), "--stats-file",
                                   (dir.path / "stats").string(), "--stats-interval", "0", "--set",
                                   "peers.enabled=true", "--set", "peers.port=0"};
  for (const auto& a : small_index()) args.push_back(a);
  process serve(args, dir.path / "serve.log");
  // Serving = the first stats file is written (after the peer port was published and printed).
  for (int i = 0; i < 3000 && !serve.exited() && !fs::exists(dir.path / "stats"); ++i) std::this_thread::sleep_for(20ms);
  const std::string log = read_text(dir.path / "serve.log");
  BOOST_REQUIRE_MESSAGE(fs::exists(dir.path / "stats"), "serve did not start: " << log);
  const unsigned peer_port = printed_peer_port(log);
  BOOST_REQUIRE_MESSAGE(peer_port != 0, "serve printed no peer port: " << log);

  int peer_listening = 0;
  for (const net_socket& s : listening_sockets(serve.pid)) {
    const bool is_peer = s.table.rfind("tcp", 0) == 0 && s.state == "0A" && port_of(s.local_address) == peer_port;
    peer_listening += is_peer;
    BOOST_TEST(is_loopback(s.local_address), (is_peer ? "the peer port" : "a socket")
                                                 << " of serve is bound to a non-loopback address: /proc/net/"
                                                 << s.table << " local_address " << s.local_address);
  }
  BOOST_TEST(peer_listening >= 1, "no listening socket on the printed peer port " << peer_port << " (pid " << serve.pid
                                                                                    << ")");
  BOOST_TEST(serve.wait(SIGTERM) == 0, read_text(dir.path / "serve.log"));
}
