# Every dependency comes from Debian 12 packages (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)          # oneDNN's runtime is GNU OpenMP; we cap it to 1 thread per caller
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(dnnl REQUIRED)            # oneDNN 2.6 -> DNNL::dnnl
find_package(FlatBuffers REQUIRED)     # 2.0.8 -> flatbuffers::flatbuffers, flatbuffers::flatc
find_package(PkgConfig REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka++>=2.0 rdkafka>=2.0)
find_package(CLI11 QUIET CONFIG)
find_path(IVFSTREAM_CLI11_INCLUDE CLI/CLI.hpp REQUIRED)
find_path(IVFSTREAM_TOMLPP_INCLUDE toml++/toml.h REQUIRED)
find_package(Boost 1.74 COMPONENTS unit_test_framework)

# CAF 0.17.6 ships no CMake config: imported targets made by hand.
find_path(IVFSTREAM_CAF_INCLUDE caf/all.hpp REQUIRED)
foreach(_caf core io openssl)
  find_library(IVFSTREAM_CAF_${_caf}_LIB caf_${_caf})
  if(IVFSTREAM_CAF_${_caf}_LIB AND NOT TARGET caf::${_caf})
    add_library(caf::${_caf} SHARED IMPORTED)
    set_target_properties(caf::${_caf} PROPERTIES
      IMPORTED_LOCATION ${IVFSTREAM_CAF_${_caf}_LIB}
      INTERFACE_INCLUDE_DIRECTORIES ${IVFSTREAM_CAF_INCLUDE})
  endif()
endforeach()
if(NOT TARGET caf::core OR NOT TARGET caf::io OR NOT TARGET caf::openssl)
  message(FATAL_ERROR "CAF 0.17 (libcaf-dev: caf_core, caf_io, caf_openssl) not found: run scripts/install-deps.sh")
endif()
set_property(TARGET caf::io APPEND PROPERTY INTERFACE_LINK_LIBRARIES caf::core Threads::Threads)
find_package(OpenSSL REQUIRED)         # libssl-dev: peer-link TLS (actors/peer_tls.cpp) beside caf::openssl
set_property(TARGET caf::openssl APPEND PROPERTY INTERFACE_LINK_LIBRARIES caf::io OpenSSL::SSL)

if(NOT TARGET ivfstream::cli11)
  add_library(ivfstream_cli11 INTERFACE)
  target_include_directories(ivfstream_cli11 SYSTEM INTERFACE ${IVFSTREAM_CLI11_INCLUDE})
  add_library(ivfstream::cli11 ALIAS ivfstream_cli11)
  add_library(ivfstream_tomlpp INTERFACE)
  target_include_directories(ivfstream_tomlpp SYSTEM INTERFACE ${IVFSTREAM_TOMLPP_INCLUDE})
  add_library(ivfstream::tomlpp ALIAS ivfstream_tomlpp)
endif()
