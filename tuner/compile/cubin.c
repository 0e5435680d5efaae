/*
 * cubin.c - per-kernel resources from a CUDA cubin and from the ptxas -v report.
 *
 * Where each figure comes from (observed on cubins of CUDA 13.0 for sm_80 and sm_90, and
 * checked against `cuobjdump -elf` / `cuobjdump -res-usage` of the same files):
 *
 * - kernels: the STT_FUNC symbols defined in a section named ".text.<symbol>" that are
 *   entry points: st_other has STO_CUDA_ENTRY (0x10) or a ".nv.info.<symbol>" section
 *   exists (device functions that were not inlined have neither).
 * - registers: the EIATTR_REGCOUNT attribute of the global ".nv.info" section, keyed by
 *   symbol index. Fallback when it is absent: the top byte of the ".text.<symbol>"
 *   section header's sh_info, which ptxas sets to the same count.
 * - stack frame (local_bytes): EIATTR_FRAME_SIZE in ".nv.info" (the "bytes stack frame"
 *   of the report and cuobjdump's STACK), raised to EIATTR_MAX_STACK_SIZE when that
 *   is larger (a kernel whose callees need more stack).
 * - max threads: EIATTR_MAX_THREADS in ".nv.info.<symbol>", three u32 (x, y, z), present
 *   only with __launch_bounds__ / .maxntid; their product.
 * - static shared memory: the size of the ".nv.shared.<symbol>" NOBITS section. From
 *   sm_90 on, ptxas places the 1 KB that the system reserves per block inside that
 *   section (cuobjdump -res-usage prints SHARED:5120 for a kernel with a 4096-byte
 *   array, the report "4096 bytes smem"); the device profile adds that reservation
 *   (lds_reserved_per_block) itself, so when the report names the kernel its smem
 *   figure wins: it is the kernel's own static shared memory.
 * - spills: only the report has them ("N bytes spill stores"); -1 without a report.
 *
 * The .nv.info encoding: a sequence of records, each a 4-byte header { u8 format,
 * u8 attribute, u16 value-or-length } where format EIFMT_SVAL (4) is followed by
 * `length` payload bytes and the other formats (EIFMT_NVAL 1, EIFMT_BVAL 2, EIFMT_HVAL
 * 3) carry their value in the header. Per-function attributes in the global section have
 * an SVAL payload { u32 symbol index, u32 value }. The format and attribute numbers
 * (EIATTR_MAX_THREADS 0x05, EIATTR_FRAME_SIZE 0x11, EIATTR_MIN_STACK_SIZE 0x12,
 * EIATTR_MAX_STACK_SIZE 0x23, EIATTR_REGCOUNT 0x2f) are those used by the open-source
 * cubin readers of the cricket and GVirtuS CUDA-forwarding projects (their cudart ELF
 * helpers) and match what cuobjdump -elf names for each record of our cubins.
 */
#include "tuner/compile/cubin.h"
#include "base/os.h"
#include "base/status.h"

#include <ctype.h>
#include <elf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  EIFMT_SVAL = 0x04,
  EIATTR_MAX_THREADS = 0x05,
  EIATTR_FRAME_SIZE = 0x11,
  EIATTR_MAX_STACK_SIZE = 0x23,
  EIATTR_REGCOUNT = 0x2f,
  STO_CUDA_ENTRY = 0x10,
};

/* ---- the ptxas -v report ---- */

static struct cubin_report_fn *report_get(struct cubin_report_fn **fns, size_t *n,
                                          size_t *cap, const char *name, size_t len)
{
  if (len >= sizeof((*fns)->name))
    len = sizeof((*fns)->name) - 1;
  for (size_t i = 0; i < *n; i++)
    if (strncmp((*fns)[i].name, name, len) == 0 && (*fns)[i].name[len] == '\0')
      return &(*fns)[i];
  if (os_grow(fns, cap, *n + 1, sizeof **fns, 8))
    return NULL;
  struct cubin_report_fn *f = &(*fns)[(*n)++];
  memset(f, 0, sizeof *f);
  memcpy(f->name, name, len);
  f->registers = -1;
  f->stack_frame = f->spill_stores = f->spill_loads = -1;
  return f;
}

/* The number right before `what` in line[0..len) ("12 bytes spill stores"), or -1. */
static int64_t number_before(const char *line, size_t len, const char *what)
{
  size_t wl = strlen(what);
  for (size_t i = 0; i + wl <= len; i++) {
    if (memcmp(line + i, what, wl) != 0)
      continue;
    size_t j = i;
    while (j > 0 && line[j - 1] == ' ')
      j--;
    size_t end = j;
    while (j > 0 && isdigit((unsigned char)line[j - 1]))
      j--;
    if (j == end)
      return -1;
    return strtoll(line + j, NULL, 10);
  }
  return -1;
}

/* The text between the quotes after `key` ("Compiling entry function 'k'"). */
static bool quoted_after(const char *line, size_t len, const char *key, const char **s,
                         size_t *slen)
{
  const char *p = strstr(line, key);
  if (!p || p >= line + len)
    return false;
  p += strlen(key);
  const char *q = memchr(p, '\'', (size_t)(line + len - p));
  if (!q)
    return false;
  *s = p;
  *slen = (size_t)(q - p);
  return true;
}

int cubin_parse_report(const char *log, struct cubin_report_fn **fns, size_t *nfns)
{
  struct cubin_report_fn *out = NULL, *cur = NULL, *entry = NULL;
  size_t n = 0, cap = 0;
  *fns = NULL;
  *nfns = 0;
  for (const char *line = log; line && *line;) {
    size_t len = strcspn(line, "\n");
    const char *s;
    size_t slen;
    if (quoted_after(line, len, "Compiling entry function '", &s, &slen)) {
      cur = entry = report_get(&out, &n, &cap, s, slen);
      if (!cur)
        goto nomem;
      cur->entry = 1;
      const char *a;
      size_t alen;
      if (quoted_after(s + slen + 1, len - (size_t)(s + slen + 1 - line), "for '", &a,
                       &alen) && alen < sizeof cur->arch) {
        memcpy(cur->arch, a, alen);
        cur->arch[alen] = '\0';
      }
    } else if (strstr(line, "Function properties for ") &&
               strstr(line, "Function properties for ") < line + len) {
      s = strstr(line, "Function properties for ") + strlen("Function properties for ");
      slen = (size_t)(line + len - s);
      while (slen > 0 && (s[slen - 1] == ' ' || s[slen - 1] == '\r' || s[slen - 1] == ':'))
        slen--;
      cur = report_get(&out, &n, &cap, s, slen);
      if (!cur)
        goto nomem;
      /* report_get may have moved the array: find the entry again */
      entry = NULL;
      for (size_t i = n; i-- > 0;)
        if (out[i].entry) {
          entry = &out[i];
          break;
        }
    } else if (cur && number_before(line, len, "bytes stack frame") >= 0) {
      cur->stack_frame = number_before(line, len, "bytes stack frame");
      cur->spill_stores = number_before(line, len, "bytes spill stores");
      cur->spill_loads = number_before(line, len, "bytes spill loads");
    } else if (entry && strstr(line, "Used ") && strstr(line, "Used ") < line + len) {
      entry->registers = (int)number_before(line, len, "registers");
      int64_t smem = number_before(line, len, "bytes smem");
      entry->smem = smem > 0 ? smem : 0;
    }
    line += len;
    if (*line == '\n')
      line++;
  }
  *fns = out;
  *nfns = n;
  return AT_OK;
nomem:
  free(out);
  return at_error(AT_NOMEM, "out of memory reading the ptxas report");
}

/* ---- the cubin ---- */

struct elf {
  const unsigned char *p;
  size_t size;
  Elf64_Ehdr eh;
  const char *shstr;
  size_t shstr_size;
};

static bool shdr(const struct elf *e, size_t i, Elf64_Shdr *sh)
{
  if (i >= e->eh.e_shnum)
    return false;
  memcpy(sh, e->p + e->eh.e_shoff + i * sizeof *sh, sizeof *sh);
  return true;
}

static bool in_file(const struct elf *e, uint64_t off, uint64_t len)
{
  return off <= e->size && len <= e->size - off;
}

static const char *sec_name(const struct elf *e, const Elf64_Shdr *sh)
{
  if (sh->sh_name >= e->shstr_size)
    return "";
  const char *s = e->shstr + sh->sh_name;
  return memchr(s, '\0', e->shstr_size - sh->sh_name) ? s : "";
}

/* The index of the section called `prefix` + `name`, or 0. */
static size_t find_section(const struct elf *e, const char *prefix, const char *name)
{
  size_t pl = strlen(prefix);
  for (size_t i = 1; i < e->eh.e_shnum; i++) {
    Elf64_Shdr sh;
    shdr(e, i, &sh);
    const char *s = sec_name(e, &sh);
    if (strncmp(s, prefix, pl) == 0 && strcmp(s + pl, name) == 0)
      return i;
  }
  return 0;
}

static uint32_t rd32(const unsigned char *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Walk the records of the .nv.info-style section `idx`, calling `fn` for each SVAL. */
static void nv_info_walk(const struct elf *e, size_t idx,
                         void (*fn)(void *ctx, int attr, const unsigned char *v, size_t n),
                         void *ctx)
{
  Elf64_Shdr sh;
  if (!idx || !shdr(e, idx, &sh) || sh.sh_type == SHT_NOBITS ||
      !in_file(e, sh.sh_offset, sh.sh_size))
    return;
  const unsigned char *p = e->p + sh.sh_offset, *end = p + sh.sh_size;
  while (end - p >= 4) {
    int fmt = p[0], attr = p[1];
    size_t v = (size_t)p[2] | (size_t)p[3] << 8;
    p += 4;
    if (fmt == EIFMT_SVAL) {
      if ((size_t)(end - p) < v)
        break;
      fn(ctx, attr, p, v);
      p += v;
    }
  }
}

struct global_ctx {
  struct cc_kernel_res *k;
  const uint32_t *symidx; /* the symbol index of each kernel */
  size_t n;
  int64_t *max_stack;
};

static void global_attr(void *vctx, int attr, const unsigned char *v, size_t n)
{
  struct global_ctx *c = vctx;
  if (n < 8 || (attr != EIATTR_REGCOUNT && attr != EIATTR_FRAME_SIZE &&
                attr != EIATTR_MAX_STACK_SIZE))
    return;
  uint32_t sym = rd32(v), val = rd32(v + 4);
  for (size_t i = 0; i < c->n; i++) {
    if (c->symidx[i] != sym)
      continue;
    if (attr == EIATTR_REGCOUNT)
      c->k[i].registers = (int)val;
    else if (attr == EIATTR_FRAME_SIZE)
      c->k[i].local_bytes = val;
    else
      c->max_stack[i] = val;
  }
}

static void kernel_attr(void *vctx, int attr, const unsigned char *v, size_t n)
{
  struct cc_kernel_res *k = vctx;
  if (attr == EIATTR_MAX_THREADS && n >= 12) {
    uint64_t t = (uint64_t)rd32(v) * rd32(v + 4) * rd32(v + 8);
    k->max_threads = t > 0 && t <= 1u << 20 ? (int)t : -1;
  }
}

static int elf_open(struct elf *e, const unsigned char *code, size_t size)
{
  memset(e, 0, sizeof *e);
  e->p = code;
  e->size = size;
  if (!code || size < sizeof e->eh || memcmp(code, ELFMAG, SELFMAG) != 0)
    return at_error(AT_PARSE, "code object is not an ELF image");
  memcpy(&e->eh, code, sizeof e->eh);
  if (e->eh.e_ident[EI_CLASS] != ELFCLASS64 || e->eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return at_error(AT_PARSE, "code object is not a 64-bit little-endian ELF image");
  if (e->eh.e_shentsize != sizeof(Elf64_Shdr) ||
      !in_file(e, e->eh.e_shoff, (uint64_t)e->eh.e_shnum * sizeof(Elf64_Shdr)))
    return at_error(AT_PARSE, "code object's section table lies outside it");
  Elf64_Shdr sh;
  if (!shdr(e, e->eh.e_shstrndx, &sh) || !in_file(e, sh.sh_offset, sh.sh_size))
    return at_error(AT_PARSE, "code object has no section name table");
  e->shstr = (const char *)code + sh.sh_offset;
  e->shstr_size = sh.sh_size;
  return AT_OK;
}

int cubin_resources(const unsigned char *code, size_t size, const char *log,
                    struct cc_kernel_res **kernels, size_t *nkernels)
{
  int rc;
  struct elf e;
  struct cc_kernel_res *k = NULL;
  uint32_t *symidx = NULL;
  int64_t *max_stack = NULL;
  struct cubin_report_fn *rep = NULL;
  size_t nrep = 0, n = 0;
  *kernels = NULL;
  *nkernels = 0;

  rc = elf_open(&e, code, size);
  if (rc)
    goto out;
  rc = cubin_parse_report(log, &rep, &nrep);
  if (rc)
    goto out;

  Elf64_Shdr symsh = {0}, strsh;
  size_t symi = 0;
  for (size_t i = 1; i < e.eh.e_shnum && !symi; i++) {
    shdr(&e, i, &symsh);
    if (symsh.sh_type == SHT_SYMTAB)
      symi = i;
  }
  if (!symi || symsh.sh_entsize != sizeof(Elf64_Sym) ||
      !in_file(&e, symsh.sh_offset, symsh.sh_size) || !shdr(&e, symsh.sh_link, &strsh) ||
      !in_file(&e, strsh.sh_offset, strsh.sh_size)) {
    rc = at_error(AT_PARSE, "cubin has no usable symbol table");
    goto out;
  }
  size_t nsyms = symsh.sh_size / sizeof(Elf64_Sym);
  k = calloc(nsyms ? nsyms : 1, sizeof *k);
  symidx = calloc(nsyms ? nsyms : 1, sizeof *symidx);
  max_stack = calloc(nsyms ? nsyms : 1, sizeof *max_stack);
  if (!k || !symidx || !max_stack) {
    rc = at_error(AT_NOMEM, "out of memory reading a cubin");
    goto out;
  }
  const char *strtab = (const char *)code + strsh.sh_offset;
  for (size_t i = 1; i < nsyms; i++) {
    Elf64_Sym sym;
    memcpy(&sym, code + symsh.sh_offset + i * sizeof sym, sizeof sym);
    Elf64_Shdr text;
    if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_name >= strsh.sh_size ||
        !shdr(&e, sym.st_shndx, &text))
      continue;
    const char *name = strtab + sym.st_name;
    if (!memchr(name, '\0', strsh.sh_size - sym.st_name) ||
        strlen(name) >= sizeof k->name || strncmp(sec_name(&e, &text), ".text.", 6) != 0 ||
        strcmp(sec_name(&e, &text) + 6, name) != 0)
      continue;
    size_t info = find_section(&e, ".nv.info.", name);
    if (!(sym.st_other & STO_CUDA_ENTRY) && !info)
      continue;
    struct cc_kernel_res *r = &k[n];
    memcpy(r->name, name, strlen(name) + 1);
    r->registers = -1;
    r->agprs = r->sgprs = r->vgpr_spills = r->sgpr_spills = -1;
    r->spill_bytes = -1;
    r->local_bytes = 0;
    r->max_threads = -1;
    size_t shi = find_section(&e, ".nv.shared.", name);
    Elf64_Shdr shared;
    r->shared_bytes = shi && shdr(&e, shi, &shared) ? (int64_t)shared.sh_size : 0;
    nv_info_walk(&e, info, kernel_attr, r);
    symidx[n] = (uint32_t)i;
    max_stack[n] = -1;
    /* the fallback for registers, overwritten by EIATTR_REGCOUNT below */
    r->registers = (int)(text.sh_info >> 24);
    n++;
  }
  struct global_ctx g = {k, symidx, n, max_stack};
  nv_info_walk(&e, find_section(&e, ".nv.info", ""), global_attr, &g);
  for (size_t i = 0; i < n; i++) {
    if (max_stack[i] > k[i].local_bytes)
      k[i].local_bytes = max_stack[i];
    for (size_t j = 0; j < nrep; j++) {
      if (!rep[j].entry || strcmp(rep[j].name, k[i].name) != 0)
        continue;
      k[i].spill_bytes = rep[j].spill_stores;
      if (k[i].shared_bytes > 0)
        k[i].shared_bytes = rep[j].smem;
    }
  }
  *kernels = k;
  *nkernels = n;
  k = NULL;
out:
  free(k);
  free(symidx);
  free(max_stack);
  free(rep);
  return rc;
}

bool cubin_arch_ok(const char *arch)
{
  if (!arch || strncmp(arch, "sm_", 3) != 0 || !isdigit((unsigned char)arch[3]))
    return false;
  const char *p = arch + 3;
  while (isdigit((unsigned char)*p))
    p++;
  return p[0] == '\0' || (islower((unsigned char)p[0]) && p[1] == '\0');
}
