/*
 * run_prov.c - what a run records about where it ran and who runs it (tune_internal.h):
 * the host (CPU model, kernel), the GPU through its management library (tuner/device/
 * smi.h: driver, runtime, name, uuid, clocks and power limit at the start and the end),
 * the SM clock around each measurement with its throttling flag, and the run's owner
 * with its heartbeat. The rules are docs/database.md's "Provenance of a run" and "Run
 * owners". The parent process only ever talks to the management library, never to a
 * GPU runtime (tuner/measure/worker.h, invariant 4).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/os.h"
#include "base/proc.h"
#include "base/status.h"
#include "tuner/engine/tune_internal.h"

/* Whether the run measures on a GPU (not the host, and the GPU opened). */
static bool on_gpu(const struct tuner *tu)
{
  return tu->mb && tu->dev->vendor != DEV_HOST;
}

static struct db_clocks clocks_of(const struct smi_sample *s)
{
  return (struct db_clocks){s->sm_mhz, s->mem_mhz, s->power_limit_w};
}

void tune_prov_init(struct tuner *tu, char *why, size_t why_len)
{
  struct tune_prov *pv = &tu->prov;
  why[0] = '\0';
  gethostname(pv->host, sizeof pv->host - 1);
  proc_boot_id(pv->boot, sizeof pv->boot);
  if (!proc_start_ticks(getpid(), &pv->start_ticks))
    pv->start_ticks = -1;
  proc_cpu_model(pv->cpu, sizeof pv->cpu);
  proc_os_release(pv->os, sizeof pv->os);
  pv->start = (struct db_clocks){-1, -1, NAN};
  pv->sm_max = pv->sm_low = -1;
  if (!on_gpu(tu))
    return;
  char reason[300];
  if (smi_open(tu->dev->vendor, tu->dev_id.pci_bus_id, &pv->smi, &pv->info, reason,
               sizeof reason) != AT_OK) {
    snprintf(why, why_len, "the GPU's driver, clocks and power limit are not recorded: %s",
             reason);
    return;
  }
  struct smi_sample s;
  smi_sample(pv->smi, &s);
  pv->start = clocks_of(&s);
  if (!s.idle)
    pv->sm_max = s.sm_mhz;
}

void tune_prov_release(struct tuner *tu)
{
  smi_close(tu->prov.smi);
  tu->prov.smi = NULL;
}

static const char *or_null(const char *s)
{
  return s && s[0] ? s : NULL;
}

void tune_prov_run(struct tuner *tu, struct db_run *r)
{
  struct tune_prov *pv = &tu->prov;
  db_now(pv->beat_at);
  r->cpu = or_null(pv->cpu);
  r->os = or_null(pv->os);
  if (tu->dev->vendor == DEV_HOST) {
    r->driver = "host"; /* the emulator: no GPU driver stands behind its figures */
  } else if (on_gpu(tu)) {
    r->gpu_index = tu->gpu_ord[0]; /* the first of --gpus; each trial says its own */
    r->driver = or_null(pv->info.driver);
    r->runtime = or_null(pv->info.runtime);
    r->gpu_name = or_null(pv->info.name);
    r->gpu_uuid = or_null(pv->info.uuid);
    r->start_clocks = pv->start;
  }
  r->owner = (struct db_owner){or_null(pv->host), or_null(pv->boot), (int64_t)getpid(),
                               pv->start_ticks, pv->beat_at};
  pv->last_beat = at_now_s();
}

/* A non-idle sample into the run's maximum and the measurement's minimum. */
static void take(struct tune_prov *pv)
{
  struct smi_sample s;
  smi_sample(pv->smi, &s);
  if (s.sm_mhz < 0 || s.idle)
    return;
  if (s.sm_mhz > pv->sm_max)
    pv->sm_max = s.sm_mhz;
  if (pv->sm_low < 0 || s.sm_mhz < pv->sm_low)
    pv->sm_low = s.sm_mhz;
}

void tune_prov_before(struct tuner *tu)
{
  tu->prov.sm_low = -1;
  if (tu->prov.smi)
    take(&tu->prov);
}

void tune_prov_after(struct tuner *tu, int64_t *sm_clock_mhz, int64_t *throttled)
{
  struct tune_prov *pv = &tu->prov;
  *sm_clock_mhz = *throttled = -1;
  if (!pv->smi)
    return;
  take(pv);
  if (pv->sm_low < 0)
    return;
  *sm_clock_mhz = pv->sm_low;
  *throttled = pv->sm_low < pv->sm_max;
}

int tune_prov_heartbeat(struct tuner *tu)
{
  double now = at_now_s();
  if (!tu->run_put || now - tu->prov.last_beat < TUNE_HEARTBEAT_S)
    return AT_OK;
  tu->prov.last_beat = now;
  return db_run_heartbeat(tu->db, tu->run_uuid);
}

void tune_prov_end(struct tuner *tu, struct db_clocks *end)
{
  struct smi_sample s;
  smi_sample(tu->prov.smi, &s);
  *end = clocks_of(&s);
}

int tune_prov_claim(struct tuner *tu, const char *uuid)
{
  struct tune_prov *pv = &tu->prov;
  struct db_owner me = {pv->host, pv->boot, (int64_t)getpid(), pv->start_ticks, NULL};
  enum db_claim claim;
  char holder[300];
  int rc = db_claim_run(tu->db, uuid, &me, TUNE_LEASE_S, &claim, holder, sizeof holder);
  if (rc != AT_OK)
    return rc;
  pv->last_beat = at_now_s();
  if (claim == DB_CLAIM_ALIVE)
    return at_error(AT_USAGE, "cannot resume run %.8s: %s still executes it; wait for it "
                    "to end, or stop it first", uuid, holder);
  if (claim == DB_CLAIM_LEASED)
    return at_error(AT_USAGE, "cannot resume run %.8s: it belongs to %s, whose lease of "
                    "%.0f s has not run out; resume it there, or after the lease",
                    uuid, holder, TUNE_LEASE_S);
  return AT_OK;
}
