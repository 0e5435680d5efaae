/*
 * cc_host.c - the host compile backend: a variant TU as plain C++ for this CPU, to a
 * shared object that the SIMT emulator (tuner/emu/emu.c, through the `host` measurement
 * backend) loads. The command is
 *   g++ -std=c++17 -O2 -shared -fPIC -Wno-unknown-pragmas -ffp-contract=off [-mfma]
 *       -DAT_WAVE_SIZE=<32|64> [-DAT_EMULATE_...] -I<dir>... <flags> -o out.so in.cpp
 * with the compiler $AUTOTUNE_HOST_CXX, else g++, else c++, else clang++. -mfma where this
 * x86-64 CPU has FMA (the toolchain string, part of the compile cache's key, then says
 * "+fma"): the matrix-core emulations' fmaf becomes one instruction instead of a call into
 * libm, the largest single cost of emulating wgmma; -ffp-contract=off keeps every other
 * a * b + c of the variant as two roundings, as without FMA (g++ and clang++ would
 * otherwise fuse them where the instruction exists). The toolchain string ends in
 * " emu <digest>" of the host device's headers (templates/common/at_host_*.h: the runtime
 * table and the emulators) in the include folders, which the templates' content hash
 * leaves out (host_version): an emulator change rebuilds every host object and
 * renames no variant. at_common.h's
 * HOST branch turns every GPU query into a call through the emulator's table
 * (templates/common/at_host_rt.h) and defines the object's at_host_bind().
 *
 * The request's arch says which GPU the object stands in for (how `--device host
 * --emulate X` reaches the compiler): "host" is a warp-32 device; "host64" a wave-64 one;
 * "host:<arch>" (or a bare GPU arch, "gfx942", "sm_90") emulates that GPU: gfx9* (GCN
 * and CDNA: gfx90a, gfx942) has waves of 64, gfx10 and later 32, sm_* 32. Emulating adds
 * -DAT_EMULATE_AMD=1 -DAT_EMULATE_GFX=0x<digits> ("gfx90a" -> 0x90a) or
 * -DAT_EMULATE_NVIDIA=1 -DAT_EMULATE_SM=<digits> ("sm_90" -> 90), so that the host side of
 * templates/common can pick the matrix-core instructions of that GPU. The wave size the
 * object was built for is also appended to the TU as an exported
 *   extern "C" const unsigned at_host_warp_size
 * which the measurement backend reads after dlopen to launch with that warp size.
 *
 * `--sanitize` reaches here as flags: "-fsanitize=address,undefined" (any -fsanitize=
 * flag also adds -fno-omit-frame-pointer). Such an object loads only into a process that
 * has the ASan runtime already (a Sanitize build of autotune, or LD_PRELOAD of libasan).
 *
 * A GPU's resources do not apply: every figure is -1 (registers and spills are unknown;
 * the static __shared__ bytes are thread_local variables, not measurable from the
 * object). The kernels are the object's defined global function symbols (extern "C", so
 * unmangled), read from its ELF dynamic symbol table, less the runtime's own at_host_*.
 */
#include "tuner/compile/compile.h"
#include "generator/template.h"
#include "base/status.h"

#include <elf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const char *const cc_sanitize_flags[] = {"-fsanitize=address,undefined", NULL};

static struct {
  char path[4096];
  char name[64];     /* "g++" */
  char version[64]; /* "12.2.0", and " +fma" where -mfma is passed */
  bool fma;
} gxx;
static pthread_once_t gxx_once = PTHREAD_ONCE_INIT;

static void gxx_find(void)
{
  const char *env = getenv("AUTOTUNE_HOST_CXX");
  if (!(env && *env && os_which(env, gxx.path, sizeof gxx.path)) &&
      !os_which("g++", gxx.path, sizeof gxx.path) &&
      !os_which("c++", gxx.path, sizeof gxx.path) &&
      !os_which("clang++", gxx.path, sizeof gxx.path)) {
    gxx.path[0] = '\0';
    return;
  }
  const char *base = strrchr(gxx.path, '/');
  snprintf(gxx.name, sizeof gxx.name, "%.63s", base ? base + 1 : gxx.path);
  /* g++ knows -dumpfullversion ("12.2.0"); clang++ -dumpversion gives the same */
  static const char *const opts[] = {"-dumpfullversion", "-dumpversion"};
  for (size_t i = 0; i < 2 && !gxx.version[0]; i++) {
    const char *argv[] = {gxx.path, opts[i], NULL};
    int code;
    char *out = NULL;
    if (os_run(argv, NULL, 60, &code, &out) == AT_OK && code == 0)
      sscanf(out, "%63[0-9A-Za-z.]", gxx.version);
    free(out);
  }
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  gxx.fma = __builtin_cpu_supports("fma");
  if (gxx.fma) {
    size_t n = strlen(gxx.version);
    snprintf(gxx.version + n, sizeof gxx.version - n, "%s+fma", n ? " " : "? ");
  }
#endif
}

static bool host_available(char *why, size_t why_len)
{
  pthread_once(&gxx_once, gxx_find);
  if (!gxx.path[0] && why && why_len)
    snprintf(why, why_len, "no g++, c++ or clang++ on PATH");
  return gxx.path[0] != '\0';
}

/* The defined global functions of a 64-bit little-endian ELF shared object whose names
 * do not start with '_' (C++ template instantiations are mangled and weak; _init and
 * _fini are the runtime's). */
static int elf_kernels(const unsigned char *p, size_t size, const char *log,
                       struct cc_kernel_res **out, size_t *n)
{
  (void)log;
  static const struct cc_kernel_res none = {.registers = -1, .agprs = -1, .sgprs = -1,
                                            .spill_bytes = -1, .vgpr_spills = -1,
                                            .sgpr_spills = -1, .shared_bytes = -1,
                                            .local_bytes = -1, .max_threads = -1};
  Elf64_Ehdr eh;
  *out = NULL;
  *n = 0;
  if (size < sizeof eh || memcmp(p, ELFMAG, SELFMAG) != 0 || p[EI_CLASS] != ELFCLASS64)
    return at_error(AT_UNSUPPORTED, "host: the compiler's output is no 64-bit ELF");
  memcpy(&eh, p, sizeof eh);
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > size ||
      (size - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum)
    return at_error(AT_UNSUPPORTED, "host: bad ELF section table");
  for (size_t i = 0; i < eh.e_shnum; i++) {
    Elf64_Shdr sh, str;
    memcpy(&sh, p + eh.e_shoff + i * sizeof sh, sizeof sh);
    if (sh.sh_type != SHT_DYNSYM || sh.sh_link >= eh.e_shnum)
      continue;
    memcpy(&str, p + eh.e_shoff + sh.sh_link * sizeof str, sizeof str);
    if (sh.sh_offset > size || sh.sh_size > size - sh.sh_offset || str.sh_offset > size ||
        str.sh_size > size - str.sh_offset || sh.sh_entsize != sizeof(Elf64_Sym))
      return at_error(AT_UNSUPPORTED, "host: bad ELF symbol table");
    size_t nsym = sh.sh_size / sizeof(Elf64_Sym);
    struct cc_kernel_res *k = calloc(nsym ? nsym : 1, sizeof *k);
    if (!k)
      return at_error(AT_NOMEM, "out of memory");
    for (size_t j = 0; j < nsym; j++) {
      Elf64_Sym s;
      memcpy(&s, p + sh.sh_offset + j * sizeof s, sizeof s);
      if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || ELF64_ST_BIND(s.st_info) != STB_GLOBAL ||
          s.st_shndx == SHN_UNDEF || s.st_name >= str.sh_size)
        continue;
      const char *name = (const char *)p + str.sh_offset + s.st_name;
      size_t len = strnlen(name, str.sh_size - s.st_name);
      if (len == 0 || len >= sizeof k->name || name[0] == '_' ||
          len == str.sh_size - s.st_name || strncmp(name, "at_host_", 8) == 0)
        continue;
      k[*n] = none;
      memcpy(k[*n].name, name, len);
      (*n)++;
    }
    *out = k;
    return AT_OK;
  }
  return AT_OK; /* no dynamic symbols: no kernels */
}

/* The -D flags for the request's arch (see the top of the file) into d1..d3 (size 48
 * each; "" when unused). false for an arch the host backend does not know. */
static bool arch_defines(const char *arch, char *d1, char *d2, char *d3)
{
  d1[0] = d2[0] = d3[0] = '\0';
  if (!arch || !*arch || strcmp(arch, "host") == 0) {
    snprintf(d1, 48, "-DAT_WAVE_SIZE=32");
    return true;
  }
  if (strcmp(arch, "host64") == 0) {
    snprintf(d1, 48, "-DAT_WAVE_SIZE=64");
    return true;
  }
  if (strncmp(arch, "host:", 5) == 0)
    arch += 5;
  size_t n = strlen(arch);
  if (n > 3 && n < 12 && strncmp(arch, "gfx", 3) == 0 &&
      strspn(arch + 3, "0123456789abcdef") == n - 3) {
    bool wave64 = n == 6 && arch[3] == '9'; /* gfx9xy: GCN and CDNA */
    snprintf(d1, 48, "-DAT_WAVE_SIZE=%d", wave64 ? 64 : 32);
    snprintf(d2, 48, "-DAT_EMULATE_AMD=1");
    snprintf(d3, 48, "-DAT_EMULATE_GFX=0x%s", arch + 3);
    return true;
  }
  if (n > 3 && n < 10 && strncmp(arch, "sm_", 3) == 0 &&
      strspn(arch + 3, "0123456789") >= 2) {
    snprintf(d1, 48, "-DAT_WAVE_SIZE=32");
    snprintf(d2, 48, "-DAT_EMULATE_NVIDIA=1");
    snprintf(d3, 48, "-DAT_EMULATE_SM=%.*s", (int)strspn(arch + 3, "0123456789"), arch + 3);
    return true;
  }
  return false;
}

/* Appended to every TU: the wave size it was built for, for the measurement backend. */
static const char warp_size_suffix[] =
    "\n// appended by autotune's host compile backend (tuner/compile/cc_host.c)\n"
    "extern \"C\" __attribute__((visibility(\"default\"), used)) const unsigned "
    "at_host_warp_size = AT_WAVE_SIZE;\n";

static int host_version(const char *const *include_dirs, char *out, size_t out_len)
{
  char why[256], emu[TMPL_HOST_DIGEST_LEN];
  if (!host_available(why, sizeof why))
    return at_error(AT_UNSUPPORTED, "host: %s", why);
  int rc = tmpl_host_digest(include_dirs, emu);
  if (rc == AT_OK)
    snprintf(out, out_len, "%s %s emu %s", gxx.name, gxx.version[0] ? gxx.version : "?",
             emu);
  return rc;
}

static int host_compile(const struct cc_request *req, struct cc_result *res)
{
  memset(res, 0, sizeof *res);
  res->status = CC_TOOL_ERROR;
  if (!host_available(NULL, 0))
    return at_error(AT_UNSUPPORTED, "host: no g++, c++ or clang++ on PATH");
  if (!req || !req->source)
    return at_error(AT_USAGE, "host: bad request");
  char d1[48], d2[48], d3[48];
  if (!arch_defines(req->arch, d1, d2, d3))
    return at_error(AT_USAGE, "host: unknown arch '%.40s' (host, host64, host:gfx942, "
                    "host:sm_90, ...)", req->arch);
  const char *lead[11] = {"-std=c++17", "-O2",          "-shared", "-fPIC",
                          "-Wno-unknown-pragmas", "-ffp-contract=off", d1};
  size_t nlead = 7;
  if (gxx.fma)
    lead[nlead++] = "-mfma";
  if (d2[0])
    lead[nlead++] = d2;
  if (d3[0])
    lead[nlead++] = d3;
  bool sanitize = false;
  for (size_t i = 0; req->flags && req->flags[i]; i++)
    if (strncmp(req->flags[i], "-fsanitize=", 11) == 0)
      sanitize = true;
  static const char *const sanitize_tail[] = {"-fno-omit-frame-pointer", NULL};
  const struct cc_command cmd = {.tag = "host", .path = gxx.path, .lead = lead,
                                 .tail = sanitize ? sanitize_tail : NULL,
                                 .src_file = "in.cpp", .out_file = "out.so",
                                 .resources = elf_kernels};
  char v[160];
  int rc = host_version(req->include_dirs, v, sizeof v);
  if (rc != AT_OK)
    return rc;
  char *source = os_strdupf("%s%s", req->source, warp_size_suffix);
  if (!source || !(res->toolchain = strdup(v))) {
    free(source);
    return at_error(AT_NOMEM, "out of memory");
  }
  rc = cc_run_command(&cmd, req, source, res);
  free(source);
  return rc;
}

const struct cc_backend cc_host = {
    /* .name = */ "host",
    /* .target = */ CC_HOST,
    /* .available = */ host_available,
    /* .compile = */ host_compile,
    /* .version = */ host_version,
};
