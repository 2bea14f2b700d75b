#pragma once
// PEM files for the TLS peer-link tests, made per run with the openssl tool (scripts/install-deps.sh
// installs it) in a scratch directory removed at destruction:
//   ca.pem / ca.key          a cluster CA (self-signed)
//   node<i>.pem / node<i>.key  node certificates signed by it, i = 0 .. nodes-1
//   rogue.pem / rogue.key    a self-signed certificate no node trusts
// RSA 2048, valid for two days.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "actors/peer_tls.hpp"
#include "tests/actors/actor_test_support.hpp"

namespace ivfstream::test {

struct test_certificates {
  scratch_dir dir;

  explicit test_certificates(std::size_t nodes, const std::string& tag = "tls") : dir(tag) {
    std::filesystem::create_directories(dir.path);
    const std::string d = dir.path.string();
    run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ivfstream-test-ca -keyout " + d + "/ca.key -out " +
        d + "/ca.pem");
    for (std::size_t i = 0; i < nodes; ++i) {
      const std::string base = d + "/node" + std::to_string(i);
      run("openssl req -newkey rsa:2048 -nodes -subj /CN=node" + std::to_string(i) + " -keyout " + base + ".key -out " +
          base + ".csr");
      run("openssl x509 -req -days 2 -in " + base + ".csr -CA " + d + "/ca.pem -CAkey " + d +
          "/ca.key -CAcreateserial -out " + base + ".pem");
    }
    run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue -keyout " + d + "/rogue.key -out " + d +
        "/rogue.pem");
  }

  std::string path(const std::string& name) const { return (dir.path / name).string(); }

  /// TLS settings of certificate `name` (e.g. "node0", "rogue") trusting `ca`.pem.
  actors::peer_tls_options tls(const std::string& name, const std::string& ca = "ca") const {
    actors::peer_tls_options t;
    t.enabled = true;
    t.certificate = path(name + ".pem");
    t.key = path(name + ".key");
    t.cafile = path(ca + ".pem");
    return t;
  }

private:
  static void run(const std::string& cmd) {
    const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
    BOOST_REQUIRE_MESSAGE(rc == 0, "needs the openssl tool (scripts/install-deps.sh installs it); failed: " + cmd);
  }
};

}  // namespace ivfstream::test
