# CMake toolchain for aarch64 Linux with Debian's cross compiler (g++-aarch64-linux-gnu); programs run
# under qemu-user (qemu-aarch64, sysroot /usr/aarch64-linux-gnu from libc6-arm64-cross), so add_test()
# entries of a project configured with this file run on an x86-64 host too.
# Used by tests/kernels/cross (scripts/neon-cross-test.sh); the full ivfstream build is not cross-built
# (CAF, librdkafka, oneDNN, FlatBuffers and Boost.Test libraries are x86-64 packages here).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(IVFSTREAM_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${IVFSTREAM_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${IVFSTREAM_CROSS_TRIPLE}-g++)
set(IVFSTREAM_CROSS_SYSROOT /usr/${IVFSTREAM_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH ${IVFSTREAM_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${IVFSTREAM_CROSS_SYSROOT})
