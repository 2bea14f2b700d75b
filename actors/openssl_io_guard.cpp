// openssl_io_guard: clears the calling thread's OpenSSL error queue before every TLS I/O call, for
// CAF 0.17.6's OpenSSL module (the peer links, actors/peer_tls.hpp).
//
// Why. OpenSSL's SSL_get_error() reads the thread's error queue, which must be empty before the I/O
// call it classifies ("SSL_get_error", OpenSSL manual). caf::openssl::session never clears it. When a
// peer goes away without a TLS close_notify (any stop: CAF never sends one; and every crash), OpenSSL 3
// queues "unexpected eof while reading" on CAF's network thread and leaves it there; the next read on
// any *other* TLS link of that thread that would merely block is then classified as a fatal error and
// that healthy link is closed too. Measured: in a 3-node TLS cluster, stopping one node dropped the
// link between the other two and lost the request in flight on it (tests/actors/peer_tls_test.cpp,
// "after node 1 stopped"); with this guard it is kept.
//
// How. These definitions interpose on libssl's: the dynamic linker binds libcaf_openssl's calls (and
// any other library's in the process, e.g. librdkafka's, which clears the queue itself anyway) to them,
// and each forwards to libssl's own function (dlsym RTLD_NEXT) after ERR_clear_error(). Nothing else
// changes: same arguments, same result. They are only linked into programs that link ivfstream::actors.
#include "actors/openssl_io_guard.hpp"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

template <class Fn>
Fn next_symbol(const char* name) {
  // The first definition after this object: libssl's. Resolved once per function (a static local).
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static const auto real = next_symbol<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static const auto real = next_symbol<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_connect(SSL* ssl) {
  static const auto real = next_symbol<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

int SSL_accept(SSL* ssl) {
  static const auto real = next_symbol<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

}  // extern "C"

namespace ivfstream::actors {

bool openssl_io_guard_active() noexcept {
  return dlsym(RTLD_DEFAULT, "SSL_read") == reinterpret_cast<void*>(&::SSL_read);
}

}  // namespace ivfstream::actors
