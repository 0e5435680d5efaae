# autotune_tuned_header.cmake - the build-time step of a project that uses autotune:
# autotune_tuned_header() turns a tuning database into a C/C++ header by running
# `autotune emit-header` at build time (again whenever the database or the autotune
# binary changes), and wires the header into a target. Included by the installed
# autotuneConfig.cmake (the installed binary and templates) and by autotune's own
# CMakeLists.txt (the binary of the build tree and the source templates).
#
# The includer sets, before include():
#   autotune_EXECUTABLE         the autotune binary (a generator expression is fine);
#   autotune_TEMPLATES_DIR      the templates folder (with common/ inside);
#   autotune_EXECUTABLE_TARGET  optional: the target that builds the binary (in-tree).
# They are kept as global properties, so the function works from any folder of the
# project, whatever the scope find_package() or add_subdirectory() ran in.
#
#   autotune_tuned_header(OUTPUT <file.h> DB <db> DEVICE <device> OP <op>
#                         [MODE kernels|params] [DTYPE <d>...] [LAYOUT <l>...]
#                         [TARGET <tgt>])
#
# OUTPUT (relative: to the current binary folder) is written by
#   autotune emit-header <op> --device <device> --db <db> --mode <mode>
#            [--dtype d1,d2] [--layout l1,l2] --out <file.h>
# DB (relative: to the current source folder) must exist at configure time or be the
# output of a custom command. MODE defaults to kernels: the header carries the winning
# kernels and a function per (dtype, layout) that dispatches on the shape; params gives
# the winning parameters alone. DTYPE and LAYOUT restrict what is emitted (default:
# everything the database holds for the device and op). A custom target named
# autotune_header_<OUTPUT's path in the build tree, as an identifier> runs the step. With TARGET, the target depends on it,
# and gets the OUTPUT's folder as an include directory; in kernels mode also the
# templates folder and its common/ (the header includes "gemm/gemm_simt.h" and the
# templates include "at_common.h"), and for DEVICE host the link to autotune::autotune
# (at_host_launch runs the kernels on the CPU) and Threads.

set_property(GLOBAL PROPERTY AUTOTUNE_EXECUTABLE "${autotune_EXECUTABLE}")
set_property(GLOBAL PROPERTY AUTOTUNE_TEMPLATES_DIR "${autotune_TEMPLATES_DIR}")
set_property(GLOBAL PROPERTY AUTOTUNE_EXECUTABLE_TARGET "${autotune_EXECUTABLE_TARGET}")

function(autotune_tuned_header)
  cmake_parse_arguments(PARSE_ARGV 0 ATH "" "OUTPUT;DB;DEVICE;OP;MODE;TARGET"
    "DTYPE;LAYOUT")
  set(usage "autotune_tuned_header(OUTPUT <file.h> DB <db> DEVICE <device> OP <op> [MODE kernels|params] [DTYPE <d>...] [LAYOUT <l>...] [TARGET <tgt>])")
  if(ATH_UNPARSED_ARGUMENTS)
    list(JOIN ATH_UNPARSED_ARGUMENTS " " extra)
    message(FATAL_ERROR
      "autotune_tuned_header: unknown argument '${extra}'; usage: ${usage}")
  endif()
  foreach(arg OUTPUT DB DEVICE OP)
    if(NOT ATH_${arg})
      message(FATAL_ERROR "autotune_tuned_header: ${arg} is missing; usage: ${usage}")
    endif()
  endforeach()
  if(NOT ATH_MODE)
    set(ATH_MODE kernels)
  elseif(NOT ATH_MODE MATCHES "^(kernels|params)$")
    message(FATAL_ERROR
      "autotune_tuned_header: MODE '${ATH_MODE}'; kernels or params")
  endif()
  if(ATH_TARGET AND NOT TARGET ${ATH_TARGET})
    message(FATAL_ERROR
      "autotune_tuned_header: TARGET '${ATH_TARGET}' is not a target; define it (add_executable) before this call")
  endif()

  get_property(exe GLOBAL PROPERTY AUTOTUNE_EXECUTABLE)
  get_property(templates GLOBAL PROPERTY AUTOTUNE_TEMPLATES_DIR)
  get_property(exe_target GLOBAL PROPERTY AUTOTUNE_EXECUTABLE_TARGET)
  if(NOT exe)
    message(FATAL_ERROR
      "autotune_tuned_header: the autotune binary is unknown; call find_package(autotune) first")
  endif()

  get_filename_component(out "${ATH_OUTPUT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  get_filename_component(db "${ATH_DB}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  get_filename_component(out_dir "${out}" DIRECTORY)
  get_filename_component(out_name "${out}" NAME)
  get_source_file_property(db_generated "${db}" GENERATED)
  if(NOT EXISTS "${db}" AND NOT db_generated)
    message(FATAL_ERROR
      "autotune_tuned_header: DB '${db}' does not exist; tune first, e.g. 'autotune gemm --device ${ATH_DEVICE} --db ${db} ...'")
  endif()

  set(args "${ATH_OP}" --device "${ATH_DEVICE}" --db "${db}" --mode "${ATH_MODE}")
  if(ATH_DTYPE)
    string(REPLACE ";" "," dtypes "${ATH_DTYPE}")
    list(APPEND args --dtype "${dtypes}")
  endif()
  if(ATH_LAYOUT)
    string(REPLACE ";" "," layouts "${ATH_LAYOUT}")
    list(APPEND args --layout "${layouts}")
  endif()
  list(APPEND args --out "${out}")

  file(MAKE_DIRECTORY "${out_dir}")
  add_custom_command(OUTPUT "${out}"
    COMMAND "${exe}" emit-header ${args}
    DEPENDS "${db}" "${exe}" ${exe_target}
    COMMENT "autotune: emitting ${out_name} (${ATH_OP}, ${ATH_DEVICE}, ${ATH_MODE})"
    VERBATIM)

  file(RELATIVE_PATH out_rel "${CMAKE_BINARY_DIR}" "${out}")
  if(out_rel MATCHES "^\\.\\./")
    set(out_rel "${out_name}")
  endif()
  string(MAKE_C_IDENTIFIER "autotune_header_${out_rel}" name)
  if(TARGET ${name})
    string(MD5 hash "${out}")
    string(SUBSTRING "${hash}" 0 8 hash)
    set(name "${name}_${hash}")
  endif()
  add_custom_target(${name} DEPENDS "${out}")
  if(exe_target)
    add_dependencies(${name} ${exe_target})
  endif()

  if(ATH_TARGET)
    add_dependencies(${ATH_TARGET} ${name})
    target_include_directories(${ATH_TARGET} PRIVATE "${out_dir}")
    if(ATH_MODE STREQUAL "kernels")
      # SYSTEM: the templates are autotune's code, not the project's, so the project's
      # own warning flags (-Werror) do not apply to them.
      target_include_directories(${ATH_TARGET} SYSTEM PRIVATE
        "${templates}" "${templates}/common")
      if(ATH_DEVICE STREQUAL "host")
        if(NOT TARGET Threads::Threads)
          find_package(Threads REQUIRED)
        endif()
        target_link_libraries(${ATH_TARGET} PRIVATE autotune::autotune Threads::Threads)
      endif()
    endif()
  endif()
endfunction()
