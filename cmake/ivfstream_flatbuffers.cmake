# ivfstream_flatbuffers(TARGET name SCHEMAS a.fbs b.fbs ...)
# Generates <binary dir>/generated/schemas/<name>_generated.h at build time with the installed flatc
# (never committed: flatc 2.0.8 asserts its own version in the generated code) and makes an
# INTERFACE library that carries the include path and the flatbuffers runtime.
function(ivfstream_flatbuffers)
  cmake_parse_arguments(ARG "" "TARGET" "SCHEMAS" ${ARGN})
  set(_out_dir ${CMAKE_BINARY_DIR}/generated/schemas)
  set(_headers)
  foreach(_fbs IN LISTS ARG_SCHEMAS)
    get_filename_component(_abs ${_fbs} ABSOLUTE)
    get_filename_component(_name ${_fbs} NAME_WE)
    set(_hdr ${_out_dir}/${_name}_generated.h)
    add_custom_command(
      OUTPUT ${_hdr}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${_out_dir}
      COMMAND flatbuffers::flatc --cpp --scoped-enums -o ${_out_dir} -I ${CMAKE_CURRENT_SOURCE_DIR} ${_abs}
      DEPENDS ${_abs} flatbuffers::flatc
      COMMENT "flatc ${_name}.fbs"
      VERBATIM)
    list(APPEND _headers ${_hdr})
  endforeach()
  add_custom_target(${ARG_TARGET}_gen DEPENDS ${_headers})
  add_library(${ARG_TARGET} INTERFACE)
  add_dependencies(${ARG_TARGET} ${ARG_TARGET}_gen)
  target_include_directories(${ARG_TARGET} INTERFACE ${CMAKE_BINARY_DIR}/generated)
  target_link_libraries(${ARG_TARGET} INTERFACE flatbuffers::flatbuffers)
endfunction()
