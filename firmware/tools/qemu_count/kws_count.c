/* QEMU TCG plugin: counts guest instructions executed between pairs of marker functions.
 *
 *   qemu-system-arm ... -plugin libkws_count.so,out=FILE,frame_begin=0x..,frame_end=0x..,
 *                                inference_begin=0x..,inference_end=0x..
 *
 * At exit FILE gets one JSON object: for "frame" and "inference", the number of begin/end pairs seen and
 * the total, minimum and maximum instructions between them. Counting is per translated block on entry,
 * so a figure is exact to the few instructions of the marker functions themselves. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

enum { FRAME, INFERENCE, KINDS };
static const char *const kNames[KINDS] = {"frame", "inference"};

typedef struct {
  uint64_t begin_addr, end_addr;
  uint64_t started_at;
  int open;
  uint64_t pairs, total, min, max;
} Span;

static Span spans[KINDS];
static uint64_t executed; /* instructions executed so far (single vCPU) */
static char out_path[1024];

static void on_begin(unsigned int vcpu, void *userdata) {
  (void)vcpu;
  Span *s = (Span *)userdata;
  s->started_at = executed;
  s->open = 1;
}

static void on_end(unsigned int vcpu, void *userdata) {
  (void)vcpu;
  Span *s = (Span *)userdata;
  if (!s->open) return;
  const uint64_t n = executed - s->started_at;
  s->open = 0;
  s->pairs++;
  s->total += n;
  if (s->pairs == 1 || n < s->min) s->min = n;
  if (n > s->max) s->max = n;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, n);
  for (size_t i = 0; i < n; ++i) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    const uint64_t addr = qemu_plugin_insn_vaddr(insn);
    for (int k = 0; k < KINDS; ++k) {
      if (addr == spans[k].begin_addr) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, &spans[k]);
      if (addr == spans[k].end_addr) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, &spans[k]);
    }
  }
}

static void write_report(qemu_plugin_id_t id, void *userdata) {
  (void)id;
  (void)userdata;
  FILE *f = fopen(out_path, "w");
  if (f == NULL) return;
  fprintf(f, "{\"instructions\": %" PRIu64, executed);
  for (int k = 0; k < KINDS; ++k) {
    const Span *s = &spans[k];
    fprintf(f, ", \"%s\": {\"pairs\": %" PRIu64 ", \"total\": %" PRIu64 ", \"min\": %" PRIu64 ", \"max\": %" PRIu64 "}",
            kNames[k], s->pairs, s->total, s->min, s->max);
  }
  fprintf(f, "}\n");
  fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
  (void)info;
  for (int i = 0; i < argc; ++i) {
    const char *eq = strchr(argv[i], '=');
    if (eq == NULL) return -1;
    const size_t key = (size_t)(eq - argv[i]);
    const char *value = eq + 1;
    if (key == 3 && strncmp(argv[i], "out", 3) == 0) {
      snprintf(out_path, sizeof(out_path), "%s", value);
      continue;
    }
    int matched = 0;
    for (int k = 0; k < KINDS; ++k) {
      char begin[32], end[32];
      snprintf(begin, sizeof(begin), "%s_begin", kNames[k]);
      snprintf(end, sizeof(end), "%s_end", kNames[k]);
      /* Thumb function symbols have bit 0 set; instructions live at the even address. */
      if (strlen(begin) == key && strncmp(argv[i], begin, key) == 0) {
        spans[k].begin_addr = strtoull(value, NULL, 0) & ~1ULL;
        matched = 1;
      } else if (strlen(end) == key && strncmp(argv[i], end, key) == 0) {
        spans[k].end_addr = strtoull(value, NULL, 0) & ~1ULL;
        matched = 1;
      }
    }
    if (!matched) return -1;
  }
  if (out_path[0] == '\0') return -1;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, write_report, NULL);
  return 0;
}
