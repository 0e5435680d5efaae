/*
 * netfs.c - network and cluster filesystems by their statfs magic number (netfs.h). The
 * numbers are the kernels' and vendors' own (Linux include/uapi/linux/magic.h and
 * fs/ headers; Lustre, GPFS, BeeGFS, PanFS publish theirs); FUSE is left out, for a FUSE
 * mount may be local or remote and statfs cannot say which.
 */
#include "db/netfs.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

static const struct {
  unsigned long magic;
  const char *name;
} netfs[] = {
    {0x6969UL, "nfs"},
    {0xFF534D42UL, "cifs"},
    {0xFE534D42UL, "smb2"},
    {0x517BUL, "smb"},
    {0x0BD00BD0UL, "lustre"},
    {0x47504653UL, "gpfs"},
    {0x19830326UL, "beegfs"},
    {0xAAD7AAEAUL, "panfs"},
    {0x00C36400UL, "ceph"},
    {0x5346414FUL, "afs"},
    {0x6B414653UL, "kafs"},
    {0x73757245UL, "coda"},
    {0x564CUL, "ncp"},
    {0x01021997UL, "9p"},
    {0x01161970UL, "gfs2"},
    {0x7461636FUL, "ocfs2"},
};

const char *db_netfs_name(unsigned long magic)
{
  for (size_t i = 0; i < sizeof netfs / sizeof netfs[0]; i++)
    if (netfs[i].magic == (magic & 0xFFFFFFFFUL))
      return netfs[i].name;
  return NULL;
}

int db_netfs_check(const char *path, char *name, size_t len)
{
  if (len)
    name[0] = '\0';
  struct statfs sf;
  char dir[PATH_MAX];
  const char *at = path;
  if (access(path, F_OK) != 0) { /* not there yet: where it will be created */
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
      at = ".";
    else {
      *(slash == dir ? slash + 1 : slash) = '\0';
      at = dir;
    }
  }
  if (statfs(at, &sf) != 0)
    return 0;
  const char *n = db_netfs_name((unsigned long)sf.f_type);
  if (!n)
    return 0;
  if (len)
    snprintf(name, len, "%s", n);
  return 1;
}
