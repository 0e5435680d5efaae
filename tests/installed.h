/*
 * installed.h - test helpers for the installed tree as a user meets it: `cmake
 * --install` of the build under test into a scratch prefix (then moved, so it must
 * relocate), and the tools of that build (compilers, generator, sanitizer flags) for
 * building user projects against it.
 */
#ifndef AT_TESTS_INSTALLED_H
#define AT_TESTS_INSTALLED_H

/* The build folder: AT_BINARY's directory. malloc'd. */
char *inst_build_dir(void);
/* The value of `key` (e.g. "CMAKE_C_COMPILER") in the build's CMakeCache.txt, or
 * `fallback`. malloc'd. */
char *inst_cache_value(const char *key, const char *fallback);
/* Install the build into <dir>/staged, then move it to <dir>/prefix: everything after
 * this sees only the moved tree. Installs are serialised across test processes (they
 * share the build's install_manifest.txt). Asserts success. Returns <dir>/prefix,
 * malloc'd. */
char *inst_install_moved(const char *dir);
/* <prefix>/lib/<rest> or <prefix>/lib64/<rest>, whichever exists (asserts one does);
 * malloc'd. */
char *inst_libdir_path(const char *prefix, const char *rest);
/* The compiler flags a program linked against this build's libautotune needs:
 * "-fsanitize=address,undefined" for a Sanitize build, else "". */
const char *inst_san_flags(void);
/* The C++ compiler that goes with the build's C compiler (c++ for cc, g++ for gcc,
 * clang++ for clang, same folder and version suffix). malloc'd. */
char *inst_cxx_compiler(void);
/* CMake configure arguments that build a user project with this build's generator,
 * make program, C and C++ compilers and sanitizer flags, for a project with C, C++ or
 * both. malloc'd. */
char *inst_cmake_args(void);

/* A user program over a tuned header in dir (emit-header's output): app_src (C++) is
 * written to dir/app.cpp, built with this build's sanitizer flags against templates/,
 * include/ and the build's libautotune.so, and run; asserts it exits 0 printing
 * "0 wrong". */
void inst_run_header_app(const char *dir, const char *app_src);
/* nvcc's sm_90a PTX of cu_src (written to dir/app.cu; it includes headers from dir),
 * malloc'd; asserts nvcc succeeds. NULL where this build has no CUDA Toolkit. */
char *inst_header_ptx_sm90a(const char *dir, const char *cu_src);

#endif
