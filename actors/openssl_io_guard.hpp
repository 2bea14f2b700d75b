#pragma once
// openssl_io_guard: the TLS peer links' work-around for CAF 0.17.6's OpenSSL module (the reason and
// the mechanism are in actors/openssl_io_guard.cpp).

namespace ivfstream::actors {

/// True when the guard's SSL_read/SSL_write/SSL_connect/SSL_accept are the definitions this process
/// binds (they are in every program linked against ivfstream::actors; not when ivfstream is loaded by
/// dlopen with RTLD_LOCAL after libssl). Calling it also keeps the guard's object in the link.
bool openssl_io_guard_active() noexcept;

}  // namespace ivfstream::actors
