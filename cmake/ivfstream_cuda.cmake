# CUDA training kernels (kernels/cuda): IVFSTREAM_CUDA=auto|on|off.
#   auto: build them when check_language(CUDA) finds a working nvcc (the default; a machine without one
#         configures and builds everything else), on: require nvcc and cuBLAS, off: never.
# The CUDA language is enabled only inside that condition. Sets IVFSTREAM_WITH_CUDA (ON/OFF).
set_property(CACHE IVFSTREAM_CUDA PROPERTY STRINGS auto on off)
if(NOT IVFSTREAM_CUDA MATCHES "^(auto|on|off)$")
  message(FATAL_ERROR "IVFSTREAM_CUDA=${IVFSTREAM_CUDA}: must be one of auto, on, off")
endif()

set(IVFSTREAM_WITH_CUDA OFF)
if(IVFSTREAM_CUDA STREQUAL "off")
  message(STATUS "ivfstream: CUDA training kernels OFF (IVFSTREAM_CUDA=off)")
else()
  # nvcc is often installed outside PATH (/usr/local/cuda/bin): point check_language at it.
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(IVFSTREAM_NVCC nvcc HINTS ENV CUDA_HOME ENV CUDA_PATH /usr/local/cuda PATH_SUFFIXES bin)
    if(IVFSTREAM_NVCC)
      set(ENV{CUDACXX} "${IVFSTREAM_NVCC}")
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit)
    if(TARGET CUDA::cublas AND TARGET CUDA::cudart_static)
      set(IVFSTREAM_WITH_CUDA ON)
    endif()
  endif()
  if(IVFSTREAM_WITH_CUDA)
    message(STATUS "ivfstream: CUDA training kernels ON (${CMAKE_CUDA_COMPILER}, CUDA ${CUDAToolkit_VERSION})")
  elseif(IVFSTREAM_CUDA STREQUAL "on")
    message(FATAL_ERROR "IVFSTREAM_CUDA=on: no working nvcc with cuBLAS found "
                        "(set CUDACXX or CMAKE_CUDA_COMPILER, or use IVFSTREAM_CUDA=auto|off)")
  else()
    message(STATUS "ivfstream: CUDA training kernels OFF (no working nvcc/cuBLAS; IVFSTREAM_CUDA=auto)")
  endif()
endif()
