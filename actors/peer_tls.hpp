#pragma once
// peer_tls: mutual TLS on the peer links of a scale-out cluster (actors/peer_service.hpp), through CAF's
// OpenSSL module (libcaf-openssl, caf::openssl). Off by default: peer links are then plain TCP (CAF
// BASP), which is why peers.bind is loopback unless configured.
//
// When enabled, every node presents `certificate` (PEM, chain allowed) with `key` and accepts a peer
// only if the peer's certificate chains to a CA in `cafile` / `capath`: both directions are verified
// (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, TLS 1.2, cipher list "HIGH:!aNULL:!MD5" as set by
// CAF). The usual deployment is one cluster CA that signs every node's certificate. Host names are not
// matched against the certificate (CAF 0.17 does not); any certificate of the cluster CA is a member.
// A plain node cannot talk to a TLS node or the reverse: such a link never comes up, and searches
// report that peer as missing.
//
// CAF raises (throws on its network thread) when it cannot load a file, so validate() loads every file
// with OpenSSL first and reports what is wrong with which file, before any actor system starts.
#include <string>

#include "index/error.hpp"

namespace caf {
class actor_system_config;
}

namespace ivfstream::actors {

/// TLS settings of the peer links ([peers] tls_* keys in config/README.md).
struct peer_tls_options {
  bool enabled = false;
  std::string certificate;     ///< this node's certificate, PEM (a chain: leaf first)
  std::string key;             ///< its private key, PEM
  std::string key_passphrase;  ///< passphrase of an encrypted key ("" = not encrypted)
  std::string cafile;          ///< PEM file of the CA certificates a peer's certificate must chain to
  std::string capath;          ///< or a directory of them (c_rehash layout); at least one of the two

  /// When enabled: every file is readable, parses, the key matches the certificate, and the CA
  /// locations load. Errors name the setting (peers.tls_*), the path and OpenSSL's reason.
  status validate() const;
  /// Loads caf::openssl::manager into `cfg` (after caf::io::middleman) and hands it the files.
  /// @pre enabled and validate() succeeded.
  void apply(caf::actor_system_config& cfg) const;
};

}  // namespace ivfstream::actors
