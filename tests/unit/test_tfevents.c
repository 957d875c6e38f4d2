/* test_tfevents.c — crc32c, TensorBoard event files read back by an independent reader, trial records. */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "exp/tfevents.h"
#include "exp/trialrec.h"
#include "test.h"
#include "util/alloc.h"
#include "util/crc32c.h"
#include "util/fs.h"

/* Bit-at-a-time CRC-32C straight from the definition, to check the tables. */
static uint32_t crc_ref(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

TEST(crc32c_known_answers) {
  ASSERT_EQ(crc32c("123456789", 9), 0xE3069283u);
  ASSERT_EQ(crc32c("", 0), 0);
  /* RFC 3720 (iSCSI) B.4 test vectors */
  unsigned char buf[32];
  memset(buf, 0, 32);
  ASSERT_EQ(crc32c(buf, 32), 0x8A9136AAu);
  memset(buf, 0xff, 32);
  ASSERT_EQ(crc32c(buf, 32), 0x62A8AB43u);
  for (int i = 0; i < 32; i++) buf[i] = (unsigned char)i;
  ASSERT_EQ(crc32c(buf, 32), 0x46DD794Eu);
  for (int i = 0; i < 32; i++) buf[i] = (unsigned char)(31 - i);
  ASSERT_EQ(crc32c(buf, 32), 0x113FDB5Cu);
}

TEST(crc32c_matches_the_definition_at_every_alignment) {
  unsigned char data[1100];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 131 + (i >> 3));
  for (size_t off = 0; off < 9; off++)
    for (size_t len = 0; len < 70; len += 3) ASSERT_EQ(crc32c(data + off, len), crc_ref(data + off, len));
  ASSERT_EQ(crc32c(data + 3, 1000), crc_ref(data + 3, 1000));
  /* chaining pieces gives the CRC of the whole */
  uint32_t c = crc32c_update(0, data, 17);
  c = crc32c_update(c, data + 17, 500);
  c = crc32c_update(c, data + 517, 583);
  ASSERT_EQ(c, crc32c(data, 1100));
  for (uint32_t v = 1; v < 0xF0000000u; v = v * 7 + 13) ASSERT_EQ(crc32c_unmask(crc32c_mask(v)), v);
  ASSERT(crc32c_mask(0x12345678u) != 0x12345678u);
}

/* ---- an independent reader of the published formats ---- */

struct cursor {
  const unsigned char *p, *end;
};

static uint64_t le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static uint64_t varint(struct cursor *c) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    ASSERT(c->p < c->end);
    unsigned char b = *c->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  ASSERT(!"varint too long");
  return 0;
}

struct event {
  double wall_time;
  int64_t step;
  char file_version[64];
  int nvalues;
  char tags[8][64];
  float values[8];
};

/* Decodes a Summary.Value into ev. */
static void decode_value(struct cursor c, struct event *ev) {
  int i = ev->nvalues++;
  ASSERT(i < 8);
  while (c.p < c.end) {
    uint64_t key = varint(&c);
    if (key == (1 << 3 | 2)) {
      uint64_t n = varint(&c);
      ASSERT(n < 64 && c.p + n <= c.end);
      memcpy(ev->tags[i], c.p, n);
      ev->tags[i][n] = 0;
      c.p += n;
    } else if (key == (2 << 3 | 5)) {
      uint32_t bits = (uint32_t)le(c.p, 4);
      memcpy(&ev->values[i], &bits, 4);
      c.p += 4;
    } else {
      ASSERT(!"unexpected field in Summary.Value");
    }
  }
}

static void decode_event(const unsigned char *data, size_t len, struct event *ev) {
  memset(ev, 0, sizeof *ev);
  struct cursor c = {data, data + len};
  while (c.p < c.end) {
    uint64_t key = varint(&c);
    if (key == (1 << 3 | 1)) {
      uint64_t bits = le(c.p, 8);
      memcpy(&ev->wall_time, &bits, 8);
      c.p += 8;
    } else if (key == (2 << 3 | 0)) {
      ev->step = (int64_t)varint(&c);
    } else if (key == (3 << 3 | 2)) {
      uint64_t n = varint(&c);
      ASSERT(n < 64 && c.p + n <= c.end);
      memcpy(ev->file_version, c.p, n);
      c.p += n;
    } else if (key == (5 << 3 | 2)) {
      uint64_t n = varint(&c);
      ASSERT(c.p + n <= c.end);
      struct cursor s = {c.p, c.p + n};
      while (s.p < s.end) { /* Summary: repeated Value value = 1 */
        ASSERT_EQ(varint(&s), 1 << 3 | 2);
        uint64_t vn = varint(&s);
        ASSERT(s.p + vn <= s.end);
        decode_value((struct cursor){s.p, s.p + vn}, ev);
        s.p += vn;
      }
      c.p += n;
    } else {
      ASSERT(!"unexpected field in Event");
    }
  }
  ASSERT(c.p == c.end);
}

/* Reads every record of a TFRecord file, checking both CRCs; returns how many
 * decoded into evs, or -1 at the first bad CRC or truncated record. */
static int read_events(const char *path, struct event *evs, int max) {
  char *text;
  size_t len;
  oast_err e;
  ASSERT_EQ(fs_read_all(path, 0, &text, &len, &e), 0);
  const unsigned char *p = (const unsigned char *)text, *end = p + len;
  int n = 0;
  while (p < end) {
    if (end - p < 12) goto bad;
    uint64_t dlen = le(p, 8);
    if (crc32c_unmask((uint32_t)le(p + 8, 4)) != crc_ref(p, 8)) goto bad;
    if ((uint64_t)(end - p - 12) < dlen + 4) goto bad;
    const unsigned char *data = p + 12;
    if (crc32c_unmask((uint32_t)le(data + dlen, 4)) != crc_ref(data, dlen)) goto bad;
    ASSERT(n < max);
    decode_event(data, dlen, &evs[n++]);
    p = data + dlen + 4;
  }
  free(text);
  return n;
bad:
  free(text);
  return -1;
}

static char *only_file(const char *dir, const char *prefix, int which) {
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  struct dirent *de;
  char *names[4];
  int n = 0;
  while ((de = readdir(d)))
    if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && n < 4) names[n++] = xstrdup(de->d_name);
  closedir(d);
  ASSERT(which < n);
  for (int i = 0; i < n; i++) /* sort by length then name: base name first */
    for (int k = i + 1; k < n; k++)
      if (strlen(names[k]) < strlen(names[i]) || (strlen(names[k]) == strlen(names[i]) && strcmp(names[k], names[i]) < 0)) {
        char *t = names[i];
        names[i] = names[k];
        names[k] = t;
      }
  char *path = fs_join(dir, names[which]);
  for (int i = 0; i < n; i++) free(names[i]);
  return path;
}

TEST(tfevents_written_events_read_back) {
  struct tfevents w;
  oast_err e;
  const char *dir = test_tmpdir();
  ASSERT_EQ(tfevents_open(&w, dir, 1700000000.25, "node1", &e), 0);
  ASSERT(strstr(w.path, "/events.out.tfevents.1700000000.node1") != NULL);
  const char *tags[] = {"loss", "accuracy"};
  for (int step = 0; step < 5; step++) {
    double vals[] = {1.0 / (step + 1), 0.5 + step * 0.1};
    ASSERT_EQ(tfevents_scalars(&w, 1700000001.5 + step, step, 2, tags, vals, &e), 0);
  }
  ASSERT_EQ(tfevents_scalar(&w, 1700000010, 300000000000LL, "lr", 1e-3, &e), 0);
  ASSERT_EQ(tfevents_scalar(&w, 1700000010, 1, "", 1, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(tfevents_flush(&w, &e), 0);
  ASSERT_EQ(tfevents_close(&w, &e), 0);
  ASSERT_EQ(tfevents_close(&w, &e), 0); /* twice is fine */

  char *path = only_file(dir, "events.out.tfevents.", 0);
  struct event evs[16];
  ASSERT_EQ(read_events(path, evs, 16), 7);
  ASSERT_STREQ(evs[0].file_version, "brain.Event:2");
  ASSERT(evs[0].wall_time == 1700000000.25);
  ASSERT_EQ(evs[0].nvalues, 0);
  for (int step = 0; step < 5; step++) {
    struct event *ev = &evs[1 + step];
    ASSERT_EQ(ev->step, step);
    ASSERT(ev->wall_time == 1700000001.5 + step);
    ASSERT_EQ(ev->file_version[0], 0);
    ASSERT_EQ(ev->nvalues, 2);
    ASSERT_STREQ(ev->tags[0], "loss");
    ASSERT_STREQ(ev->tags[1], "accuracy");
    ASSERT(ev->values[0] == (float)(1.0 / (step + 1)));
    ASSERT(ev->values[1] == (float)(0.5 + step * 0.1));
  }
  ASSERT_EQ(evs[6].step, 300000000000LL);
  ASSERT_STREQ(evs[6].tags[0], "lr");
  ASSERT(evs[6].values[0] == 1e-3f);

  /* a damaged byte is caught by the data CRC */
  int fd = open(path, O_RDWR);
  ASSERT(fd >= 0);
  unsigned char b;
  ASSERT_EQ(pread(fd, &b, 1, 40), 1);
  b ^= 0x20;
  ASSERT_EQ(pwrite(fd, &b, 1, 40), 1);
  close(fd);
  ASSERT_EQ(read_events(path, evs, 16), -1);
  free(path);
}

TEST(tfevents_two_writers_get_two_files) {
  struct tfevents a, b;
  oast_err e;
  const char *dir = test_tmpdir();
  ASSERT_EQ(tfevents_open(&a, dir, 5, "h", &e), 0);
  ASSERT_EQ(tfevents_open(&b, dir, 5, "h", &e), 0);
  ASSERT(strcmp(a.path, b.path) != 0);
  ASSERT_EQ(tfevents_scalar(&b, 6, 1, "m", 2, &e), 0);
  ASSERT_EQ(tfevents_close(&a, &e), 0);
  ASSERT_EQ(tfevents_close(&b, &e), 0);
  struct event evs[4];
  char *pa = only_file(dir, "events.out.tfevents.5.h", 0), *pb = only_file(dir, "events.out.tfevents.5.h", 1);
  ASSERT_EQ(read_events(pa, evs, 4), 1);
  ASSERT_EQ(read_events(pb, evs, 4), 2);
  ASSERT_STREQ(evs[1].tags[0], "m");
  free(pa);
  free(pb);
  struct tfevents c;
  char *missing = fs_join(dir, "missing/deeper");
  ASSERT_EQ(tfevents_open(&c, missing, 5, "h", &e), OAST_EIO);
  ASSERT(strstr(e.msg, "cannot create") != NULL);
  ASSERT_EQ(tfevents_close(&c, &e), 0);
  free(missing);
}

TEST(trialrec_files_round_trip) {
  const char *dir = test_tmpdir();
  oast_err e;
  json_t *params = json_pack("{s:f, s:i, s:s}", "lr", 0.01, "layers", 3, "opt", "adam");
  ASSERT_EQ(trialrec_write_hparams(dir, params, &e), 0);
  json_t *back;
  ASSERT_EQ(trialrec_read_json(dir, TRIALREC_HPARAMS, &back, &e), 0);
  ASSERT(json_equal(back, params));
  json_decref(back);
  ASSERT_EQ(trialrec_write_metric(dir, 0.1, &e), 0);
  char *path = fs_join(dir, ".metric"), *text;
  size_t len;
  ASSERT_EQ(fs_read_all(path, 0, &text, &len, &e), 0);
  ASSERT_STREQ(text, "0.1");
  free(text);
  free(path);
  double m;
  ASSERT_EQ(trialrec_read_metric(dir, &m, &e), 0);
  ASSERT(m == 0.1);
  ASSERT_EQ(trialrec_write_metric(dir, 1.0 / 3, &e), 0);
  ASSERT_EQ(trialrec_read_metric(dir, &m, &e), 0);
  ASSERT(m == 1.0 / 3);
  ASSERT_EQ(trialrec_write_metric(dir, NAN, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(trialrec_write_outputs(dir, NULL, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, ".outputs.json") != NULL);
  json_t *outputs = json_pack("{s:f}", "accuracy", 0.93);
  ASSERT_EQ(trialrec_write_outputs(dir, outputs, &e), 0);
  ASSERT_EQ(trialrec_read_json(dir, TRIALREC_OUTPUTS, &back, &e), 0);
  ASSERT(json_equal(back, outputs));
  json_decref(back);
  char *sub = fs_join(dir, "empty");
  ASSERT_EQ(fs_mkdirs(sub, 0755, &e), 0);
  ASSERT_EQ(trialrec_read_metric(sub, &m, &e), OAST_ENOT_FOUND);
  free(sub);
  json_decref(params);
  json_decref(outputs);
}
