# install.cmake - what `cmake --install` puts where, and the two ways a program finds
# the installed library: pkg-config files (autotune.pc for the shared library,
# autotune-static.pc for the static one) and a CMake package (find_package(autotune)
# giving the targets autotune::autotune, shared, and autotune::autotune_static). Both are
# relocatable: a .pc file locates itself through ${pcfiledir} and the CMake package
# through its own folder, so a tree installed with `--prefix` anywhere, or copied later,
# still works.
# SQLite is not baked in by path: the package looks it up again on the user's machine
# (autotune::sqlite3 in autotuneConfig.cmake.in, `Requires.private: sqlite3` in the .pc).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(AT_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/autotune")

# Both libraries are installed. autotune::autotune (and autotune.pc) is the shared one,
# libautotune.so, which exports the C API alone and brings SQLite along;
# autotune::autotune_static (and autotune-static.pc) is libautotune.a, for a program
# that must run where the library is not installed. The same names in the build tree
# as after find_package, for add_subdirectory users.
set_target_properties(autotune_shared PROPERTIES EXPORT_NAME autotune)
set_target_properties(autotune_lib PROPERTIES EXPORT_NAME autotune_static)
if(NOT TARGET autotune::autotune)
  add_library(autotune::autotune ALIAS autotune_shared)
  add_library(autotune::autotune_static ALIAS autotune_lib)
endif()

install(TARGETS autotune
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(TARGETS autotune_shared autotune_lib EXPORT autotuneTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
# A folder rather than a glob: headers added later install without a re-configure.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/autotune"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING PATTERN "*.h")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/templates/"
  DESTINATION "${CMAKE_INSTALL_DATADIR}/autotune/templates"
  OPTIONAL)
# the presets of `autotune model` (tuner/model/model.c's model_presets_dir looks here)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/models/"
  DESTINATION "${CMAKE_INSTALL_DATADIR}/autotune/models"
  FILES_MATCHING PATTERN "*.json")

# pkg-config. prefix is the path from the .pc file's folder back to the prefix, so the
# file is right whatever --prefix the install is given; an absolute LIBDIR keeps an
# absolute prefix instead.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(AT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(AT_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH AT_PC_UP "/at/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/at")
  string(REGEX REPLACE "/+$" "" AT_PC_UP "${AT_PC_UP}")
  set(AT_PC_PREFIX "\${pcfiledir}/${AT_PC_UP}")
  set(AT_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(AT_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(AT_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
foreach(pc autotune autotune-static)
  configure_file("${CMAKE_CURRENT_LIST_DIR}/${pc}.pc.in" "${PROJECT_BINARY_DIR}/${pc}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/${pc}.pc"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endforeach()

# The CMake package: targets, config (re-finds Threads and SQLite), version.
install(EXPORT autotuneTargets
  NAMESPACE autotune::
  FILE autotuneTargets.cmake
  DESTINATION "${AT_CMAKE_INSTALL_DIR}")
configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/autotuneConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/autotuneConfig.cmake"
  INSTALL_DESTINATION "${AT_CMAKE_INSTALL_DIR}"
  PATH_VARS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_DATADIR)
# 0.x: a minor release may change the API, so only the same minor version matches.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/autotuneConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/autotuneConfig.cmake"
  "${PROJECT_BINARY_DIR}/autotuneConfigVersion.cmake"
  DESTINATION "${AT_CMAKE_INSTALL_DIR}")

# autotune_tuned_header(), the build-time step that runs `autotune emit-header` and adds
# the generated header to a target: its module goes next to autotuneConfig.cmake, which
# includes it with the installed binary (autotune_BINDIR) and templates.
install(FILES "${CMAKE_CURRENT_LIST_DIR}/autotune_tuned_header.cmake"
  DESTINATION "${AT_CMAKE_INSTALL_DIR}")
