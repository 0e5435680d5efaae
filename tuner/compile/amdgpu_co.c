/*
 * amdgpu_co.c - per-kernel resources from an AMD HSA code object. The metadata is the
 * descriptor of an ELF note of type NT_AMDGPU_METADATA (32) with owner "AMDGPU", found
 * in an SHT_NOTE section or, for an image without section headers, a PT_NOTE segment;
 * the descriptor is one msgpack map (AMDGPUUsage, "Code Object V3+ Metadata"), decoded
 * here with msgpack-c. The image is untrusted input: every offset is bounds-checked.
 */
#include "tuner/compile/amdgpu_co.h"
#include "base/status.h"

#include <elf.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NT_AMDGPU_METADATA 32

static bool in_file(size_t size, uint64_t off, uint64_t len)
{
  return off <= size && len <= size - off;
}

/* Find the AMDGPU metadata note in [p, p+len). OUT: *desc, *desc_len. */
static bool find_note(const unsigned char *p, size_t len, const unsigned char **desc,
                      size_t *desc_len)
{
  size_t off = 0;
  while (len - off >= 12) {
    uint32_t nh[3];
    memcpy(nh, p + off, sizeof nh);
    uint64_t name_at = off + 12, desc_at = name_at + (((uint64_t)nh[0] + 3) & ~3ull);
    uint64_t next = desc_at + (((uint64_t)nh[1] + 3) & ~3ull);
    if (next > len || desc_at + nh[1] > len)
      return false;
    if (nh[2] == NT_AMDGPU_METADATA && nh[0] == 7 && memcmp(p + name_at, "AMDGPU", 7) == 0) {
      *desc = p + desc_at;
      *desc_len = nh[1];
      return true;
    }
    off = (size_t)next;
  }
  return false;
}

static bool metadata_note(const unsigned char *code, size_t size, const unsigned char **desc,
                          size_t *desc_len)
{
  Elf64_Ehdr eh;
  memcpy(&eh, code, sizeof eh);
  if (eh.e_shentsize == sizeof(Elf64_Shdr) &&
      in_file(size, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr))) {
    for (size_t i = 0; i < eh.e_shnum; i++) {
      Elf64_Shdr sh;
      memcpy(&sh, code + eh.e_shoff + i * sizeof sh, sizeof sh);
      if (sh.sh_type == SHT_NOTE && in_file(size, sh.sh_offset, sh.sh_size) &&
          find_note(code + sh.sh_offset, sh.sh_size, desc, desc_len))
        return true;
    }
  }
  if (eh.e_phentsize == sizeof(Elf64_Phdr) &&
      in_file(size, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr))) {
    for (size_t i = 0; i < eh.e_phnum; i++) {
      Elf64_Phdr ph;
      memcpy(&ph, code + eh.e_phoff + i * sizeof ph, sizeof ph);
      if (ph.p_type == PT_NOTE && in_file(size, ph.p_offset, ph.p_filesz) &&
          find_note(code + ph.p_offset, ph.p_filesz, desc, desc_len))
        return true;
    }
  }
  return false;
}

static bool key_is(const msgpack_object *k, const char *s)
{
  size_t n = strlen(s);
  return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
         memcmp(k->via.str.ptr, s, n) == 0;
}

static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
  if (map->type != MSGPACK_OBJECT_MAP)
    return NULL;
  for (uint32_t i = 0; i < map->via.map.size; i++)
    if (key_is(&map->via.map.ptr[i].key, key))
      return &map->via.map.ptr[i].val;
  return NULL;
}

/* An integer entry of a map; `dflt` when absent or not an integer. */
static int64_t map_int(const msgpack_object *map, const char *key, int64_t dflt)
{
  const msgpack_object *v = map_get(map, key);
  if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
    return (int64_t)v->via.u64;
  if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    return v->via.i64;
  return dflt;
}

static int clamp_int(int64_t v)
{
  return v < INT32_MIN || v > INT32_MAX ? -1 : (int)v;
}

/* gfx90a, gfx940..gfx942, gfx950: one VGPR file shared by VGPRs and AGPRs. */
static bool unified_vgprs(const msgpack_object *root)
{
  const msgpack_object *t = map_get(root, "amdhsa.target");
  if (!t || t->type != MSGPACK_OBJECT_STR)
    return false;
  char target[128];
  size_t n = t->via.str.size < sizeof target - 1 ? t->via.str.size : sizeof target - 1;
  memcpy(target, t->via.str.ptr, n);
  target[n] = '\0';
  const char *g = strstr(target, "--gfx");
  if (!g)
    return false;
  g += 2;
  return strncmp(g, "gfx90a", 6) == 0 || strncmp(g, "gfx94", 5) == 0 ||
         strncmp(g, "gfx95", 5) == 0;
}

/* Copy a msgpack string into name[96]; false when it does not fit. */
static bool take_name(char *name, size_t cap, const msgpack_object *s, bool strip_kd)
{
  if (!s || s->type != MSGPACK_OBJECT_STR)
    return false;
  size_t n = s->via.str.size;
  if (strip_kd && n > 3 && memcmp(s->via.str.ptr + n - 3, ".kd", 3) == 0)
    n -= 3;
  if (n == 0 || n >= cap || memchr(s->via.str.ptr, '\0', n))
    return false;
  memcpy(name, s->via.str.ptr, n);
  name[n] = '\0';
  return true;
}

int amdgpu_co_resources(const unsigned char *code, size_t size, const char *log,
                        struct cc_kernel_res **kernels, size_t *nkernels)
{
  (void)log;
  int rc = AT_OK;
  struct cc_kernel_res *k = NULL;
  const unsigned char *desc;
  size_t desc_len, off = 0, n = 0;
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  *kernels = NULL;
  *nkernels = 0;

  if (!code || size < sizeof(Elf64_Ehdr) || memcmp(code, ELFMAG, SELFMAG) != 0 ||
      code[EI_CLASS] != ELFCLASS64 || code[EI_DATA] != ELFDATA2LSB) {
    rc = at_error(AT_PARSE, "code object is not a 64-bit little-endian ELF image");
    goto out;
  }
  if (!metadata_note(code, size, &desc, &desc_len)) {
    rc = at_error(AT_PARSE, "code object has no AMDGPU metadata note");
    goto out;
  }
  if (msgpack_unpack_next(&up, (const char *)desc, desc_len, &off) !=
          MSGPACK_UNPACK_SUCCESS ||
      up.data.type != MSGPACK_OBJECT_MAP) {
    rc = at_error(AT_PARSE, "code object's AMDGPU metadata is not a msgpack map");
    goto out;
  }
  const msgpack_object *list = map_get(&up.data, "amdhsa.kernels");
  if (!list || list->type != MSGPACK_OBJECT_ARRAY) {
    rc = at_error(AT_PARSE, "code object's AMDGPU metadata has no amdhsa.kernels");
    goto out;
  }
  bool unified = unified_vgprs(&up.data);
  k = calloc(list->via.array.size ? list->via.array.size : 1, sizeof *k);
  if (!k) {
    rc = at_error(AT_NOMEM, "out of memory reading a code object");
    goto out;
  }
  for (uint32_t i = 0; i < list->via.array.size; i++) {
    const msgpack_object *m = &list->via.array.ptr[i];
    struct cc_kernel_res *r = &k[n];
    if (m->type != MSGPACK_OBJECT_MAP)
      continue;
    if (!take_name(r->name, sizeof r->name, map_get(m, ".name"), false) &&
        !take_name(r->name, sizeof r->name, map_get(m, ".symbol"), true))
      continue;
    int64_t vgprs = map_int(m, ".vgpr_count", -1), agprs = map_int(m, ".agpr_count", 0);
    r->agprs = clamp_int(agprs);
    r->registers = clamp_int(unified && vgprs >= agprs ? vgprs - agprs : vgprs);
    r->sgprs = clamp_int(map_int(m, ".sgpr_count", -1));
    r->spill_bytes = -1;
    r->vgpr_spills = clamp_int(map_int(m, ".vgpr_spill_count", -1));
    r->sgpr_spills = clamp_int(map_int(m, ".sgpr_spill_count", -1));
    r->shared_bytes = map_int(m, ".group_segment_fixed_size", -1);
    r->local_bytes = map_int(m, ".private_segment_fixed_size", -1);
    r->max_threads = clamp_int(map_int(m, ".max_flat_workgroup_size", -1));
    n++;
  }
  *kernels = k;
  *nkernels = n;
  k = NULL;
out:
  free(k);
  msgpack_unpacked_destroy(&up);
  return rc;
}
