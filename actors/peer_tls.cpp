#include "actors/peer_tls.hpp"

#include "actors/openssl_io_guard.hpp"

#include <algorithm>
#include <fstream>
#include <memory>

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace ivfstream::actors {
namespace {

// OpenSSL's queued errors, oldest first, joined; empties the thread's error queue.
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no reason given" : out;
}

status check_readable(const char* setting, const std::string& path) {
  if (path.empty()) return fail(errc::invalid_argument, std::string(setting) + " is empty: peers.tls needs it");
  std::ifstream in(path);
  if (!in) return fail(errc::not_found, std::string(setting) + "='" + path + "': cannot open the file");
  return {};
}

int passphrase_callback(char* buf, int size, int, void* user) {
  const auto* pass = static_cast<const std::string*>(user);
  if (size <= 0) return 0;
  const int n = static_cast<int>(std::min<std::size_t>(pass->size(), static_cast<std::size_t>(size)));
  std::copy(pass->data(), pass->data() + n, buf);
  return n;
}

struct ctx_deleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

}  // namespace

status peer_tls_options::validate() const {
  if (!enabled) return {};
  IVF_TRY(check_readable("peers.tls_certificate", certificate));
  IVF_TRY(check_readable("peers.tls_key", key));
  if (cafile.empty() && capath.empty())
    return fail(errc::invalid_argument,
                "peers.tls_cafile and peers.tls_capath are both empty: peers.tls needs the CA that signs the "
                "nodes' certificates");
  if (!cafile.empty()) IVF_TRY(check_readable("peers.tls_cafile", cafile));

  ERR_clear_error();
  std::unique_ptr<SSL_CTX, ctx_deleter> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return fail(errc::internal, "peers.tls: cannot create an OpenSSL context: " + openssl_errors());
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), certificate.c_str()) != 1)
    return fail(errc::invalid_argument,
                "peers.tls_certificate='" + certificate + "': not a PEM certificate: " + openssl_errors());
  std::string pass = key_passphrase;
  SSL_CTX_set_default_passwd_cb(ctx.get(), passphrase_callback);
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), &pass);
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      return fail(errc::invalid_argument, "peers.tls_key='" + key + "' does not match peers.tls_certificate='" +
                                              certificate + "': " + openssl_errors());
    return fail(errc::invalid_argument, "peers.tls_key='" + key +
                                            "': not a PEM private key (or wrong peers.tls_key_passphrase): " +
                                            openssl_errors());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return fail(errc::invalid_argument, "peers.tls_key='" + key + "' does not match peers.tls_certificate='" +
                                            certificate + "': " + openssl_errors());
  if (SSL_CTX_load_verify_locations(ctx.get(), cafile.empty() ? nullptr : cafile.c_str(),
                                    capath.empty() ? nullptr : capath.c_str()) != 1)
    return fail(errc::invalid_argument, "peers.tls_cafile='" + cafile + "' / peers.tls_capath='" + capath +
                                            "': cannot load CA certificates: " + openssl_errors());
  return {};
}

void peer_tls_options::apply(caf::actor_system_config& cfg) const {
  (void)openssl_io_guard_active();  // keeps the guard (actors/openssl_io_guard.cpp) in every TLS program
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = certificate;
  cfg.openssl_key = key;
  cfg.openssl_passphrase = key_passphrase;
  cfg.openssl_cafile = cafile;
  cfg.openssl_capath = capath;
}

}  // namespace ivfstream::actors
