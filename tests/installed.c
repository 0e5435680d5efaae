/*
 * installed.c - installing the build under test into a scratch prefix and building user
 * projects against it with the build's own tools (installed.h).
 */
#include "tests/installed.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "tests/helpers.h"

#if defined(__SANITIZE_ADDRESS__)
#define SAN_FLAGS "-fsanitize=address,undefined"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SAN_FLAGS "-fsanitize=address,undefined"
#endif
#endif
#ifndef SAN_FLAGS
#define SAN_FLAGS ""
#endif

char *inst_build_dir(void)
{
  char *copy = strdup(AT_BINARY);
  char *dir = strdup(dirname(copy));
  free(copy);
  return dir;
}

char *inst_cache_value(const char *key, const char *fallback)
{
  char *bdir = inst_build_dir();
  char *cache = th_path(bdir, "CMakeCache.txt");
  char *text = th_read(cache, NULL);
  char *value = NULL;
  size_t klen = strlen(key);
  for (char *line = text; line && *line && !value;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    char *eq = strchr(line, '=');
    if (strncmp(line, key, klen) == 0 && line[klen] == ':' && eq && eq[1])
      value = strdup(eq + 1);
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  free(cache);
  free(bdir);
  return value ? value : strdup(fallback);
}

char *inst_install_moved(const char *dir)
{
  char *bdir = inst_build_dir();
  char *lock = th_path(bdir, "test_install.lock");
  int fd = open(lock, O_CREAT | O_RDWR, 0644);
  cr_assert_geq(fd, 0, "cannot open lock file %s", lock);
  cr_assert_eq(flock(fd, LOCK_EX), 0);
  char *staged = th_path(dir, "staged"), *prefix = th_path(dir, "prefix");
  struct th_result r;
  th_sh(&r, "cmake --install '%s' --prefix '%s'", bdir, staged);
  flock(fd, LOCK_UN);
  close(fd);
  cr_assert_eq(r.code, 0, "cmake --install failed (%d):\n%s\n%s", r.code, r.out, r.err);
  th_result_free(&r);
  cr_assert_eq(rename(staged, prefix), 0, "cannot move %s to %s", staged, prefix);
  free(staged);
  free(lock);
  free(bdir);
  return prefix;
}

char *inst_libdir_path(const char *prefix, const char *rest)
{
  static const char *const libs[] = {"lib", "lib64"};
  char buf[4096];
  for (size_t i = 0; i < 2; i++) {
    snprintf(buf, sizeof buf, "%s/%s/%s", prefix, libs[i], rest);
    if (access(buf, F_OK) == 0)
      return strdup(buf);
  }
  cr_assert_fail("neither %s/lib/%s nor %s/lib64/%s was installed", prefix, rest, prefix,
                 rest);
  return NULL;
}

const char *inst_san_flags(void)
{
  return SAN_FLAGS;
}

char *inst_cxx_compiler(void)
{
  static const char *const pairs[][2] = {{"clang", "clang++"}, {"gcc", "g++"}, {"cc", "c++"}};
  char *cc = inst_cache_value("CMAKE_C_COMPILER", "cc");
  char *base = strrchr(cc, '/');
  base = base ? base + 1 : cc;
  char buf[4096] = "";
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0] && !buf[0]; i++) {
    size_t n = strlen(pairs[i][0]);
    if (strncmp(base, pairs[i][0], n) != 0 || (base[n] && base[n] != '-'))
      continue;
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(base - cc), cc, pairs[i][1], base + n);
    if (strchr(buf, '/') && access(buf, X_OK) != 0)
      buf[0] = '\0';
  }
  free(cc);
  return strdup(buf[0] ? buf : "c++");
}

char *inst_cmake_args(void)
{
  char *cc = inst_cache_value("CMAKE_C_COMPILER", "cc");
  char *cxx = inst_cxx_compiler();
  char *gen = inst_cache_value("CMAKE_GENERATOR", "Unix Makefiles");
  char *make = inst_cache_value("CMAKE_MAKE_PROGRAM", "");
  size_t n = strlen(cc) + strlen(cxx) + strlen(gen) + strlen(make) + 4 * strlen(SAN_FLAGS) +
             256;
  char *args = malloc(n);
  snprintf(args, n,
           "-G '%s' %s%s%s -DCMAKE_C_COMPILER='%s' -DCMAKE_CXX_COMPILER='%s' "
           "-DCMAKE_C_FLAGS='%s' -DCMAKE_CXX_FLAGS='%s'",
           gen, make[0] ? "-DCMAKE_MAKE_PROGRAM='" : "", make, make[0] ? "'" : "", cc, cxx,
           SAN_FLAGS, SAN_FLAGS);
  free(make);
  free(gen);
  free(cxx);
  free(cc);
  return args;
}

#define HDR_INCS                                                                           \
  "-isystem '" AT_SOURCE_DIR "/templates' -isystem '" AT_SOURCE_DIR "/templates/common'"

void inst_run_header_app(const char *dir, const char *app_src)
{
  char *src = th_path(dir, "app.cpp"), *exe = th_path(dir, "app"), *bindir = inst_build_dir();
  cr_assert_eq(th_write(src, app_src, strlen(app_src)), 0);
  struct th_result r;
  th_sh(&r, "c++ -std=c++17 -O1 %s '%s' -I'%s' " HDR_INCS " -I'" AT_SOURCE_DIR "/include' "
            "-o '%s' '%s/libautotune.so' -Wl,-rpath,'%s' -lm",
        inst_san_flags(), src, dir, exe, bindir, bindir);
  cr_assert_eq(r.code, 0, "c++: %s", r.err);
  th_result_free(&r);
  th_sh(&r, "'%s'", exe);
  cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
  cr_assert_not_null(strstr(r.out, "0 wrong"), "%s", r.out);
  th_result_free(&r);
  free(src), free(exe), free(bindir);
}

char *inst_header_ptx_sm90a(const char *dir, const char *cu_src)
{
#if AT_HAVE_CUDA
  char *cu = th_path(dir, "app.cu"), *ptxpath = th_path(dir, "app.ptx");
  cr_assert_eq(th_write(cu, cu_src, strlen(cu_src)), 0);
  struct th_result r;
  th_sh(&r, "cd '%s' && '" AT_CUDA_ROOT "/bin/nvcc' -std=c++17 "
            "-gencode arch=compute_90a,code=sm_90a " HDR_INCS " -I. --ptx app.cu -o app.ptx",
        dir);
  cr_assert_eq(r.code, 0, "nvcc: %s", r.err);
  th_result_free(&r);
  char *ptx = th_read(ptxpath, NULL);
  cr_assert_not_null(ptx);
  free(cu), free(ptxpath);
  return ptx;
#else
  (void)dir, (void)cu_src;
  return NULL;
#endif
}
