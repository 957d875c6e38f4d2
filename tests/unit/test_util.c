/* test_util.c — util: buffers, names, paths, URL coding, atomic files, JSON getters. */
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/path.h"

TEST(buf_cap_refuses_and_keeps_content) {
  struct buf b;
  buf_init(&b, 8);
  ASSERT_EQ(buf_puts(&b, "hello"), 0);
  ASSERT_EQ(buf_puts(&b, "world"), OAST_ETOO_LARGE);
  ASSERT_STREQ(buf_cstr(&b), "hello");
  ASSERT_EQ(buf_printf(&b, "%d", 123), 0);
  ASSERT_STREQ(buf_cstr(&b), "hello123");
  ASSERT_EQ(buf_putc(&b, 'x'), OAST_ETOO_LARGE);
  buf_release(&b);
}

TEST(names) {
  ASSERT(name_valid("a"));
  ASSERT(name_valid("Proj_1"));
  ASSERT(!name_valid(""));
  ASSERT(!name_valid("1abc"));
  ASSERT(!name_valid("_x"));
  ASSERT(!name_valid("a-b"));
  ASSERT(!name_valid("a b"));
  ASSERT(name_valid("a23456789012345678901234567890123456789012345678901234567890123"));
  ASSERT(!name_valid("a234567890123456789012345678901234567890123456789012345678901234"));
  oast_err e;
  ASSERT_EQ(name_check("project name", "9x", &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "project name") != NULL);
}

TEST(path_normalize_accepts_and_collapses) {
  char *o;
  oast_err e;
  ASSERT_EQ(path_normalize("a//b/c/", 7, &o, &e), 0);
  ASSERT_STREQ(o, "a/b/c");
  free(o);
  ASSERT_EQ(path_normalize("", 0, &o, &e), 0);
  ASSERT_STREQ(o, "");
  free(o);
  ASSERT_EQ(path_normalize("..hidden/x.y", 12, &o, &e), 0);
  ASSERT_STREQ(o, "..hidden/x.y");
  free(o);
}

TEST(path_normalize_refuses_escapes) {
  char *o = NULL;
  oast_err e;
  ASSERT_EQ(path_normalize("/etc/passwd", 11, &o, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(path_normalize("a/../../b", 9, &o, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(path_normalize("..", 2, &o, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(path_normalize("a/./b", 5, &o, &e), OAST_EBAD_REQUEST);
  ASSERT_EQ(path_normalize("a\0b", 3, &o, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "NUL") != NULL);
  ASSERT_EQ(path_normalize("a\nb", 3, &o, &e), OAST_EBAD_REQUEST);
  ASSERT(o == NULL);
}

TEST(url_coding_roundtrip) {
  char *d;
  size_t n;
  ASSERT_EQ(url_decode("a%2Fb%20c", 9, &d, &n), 0);
  ASSERT_STREQ(d, "a/b c");
  free(d);
  ASSERT_EQ(url_decode("a%00b", 5, &d, &n), 0);
  ASSERT_EQ(n, 3);
  free(d);
  ASSERT_EQ(url_decode("bad%2", 5, &d, &n), -1);
  ASSERT_EQ(url_decode("bad%zz", 6, &d, &n), -1);
  char *enc = url_encode("a b/ü", true);
  ASSERT_STREQ(enc, "a%20b/%C3%BC");
  free(enc);
}

TEST(atomic_write_replaces_whole) {
  char *p = fs_join(test_tmpdir(), "f.txt");
  oast_err e;
  ASSERT_EQ(fs_write_atomic(p, "one", 3, 0644, &e), 0);
  ASSERT_EQ(fs_write_atomic(p, "second", 6, 0600, &e), 0);
  char *data;
  size_t n;
  ASSERT_EQ(fs_read_all(p, 0, &data, &n, &e), 0);
  ASSERT_STREQ(data, "second");
  struct stat st;
  ASSERT_EQ(stat(p, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  free(data);
  ASSERT_EQ(fs_read_all(p, 3, &data, &n, &e), OAST_ETOO_LARGE);
  free(p);
}

TEST(tmp_discard_leaves_nothing) {
  char *p = fs_join(test_tmpdir(), "g.bin");
  struct fs_tmp t;
  oast_err e;
  ASSERT_EQ(fs_tmp_open(&t, p, 0644, &e), 0);
  ASSERT_EQ(fs_tmp_write(&t, "partial", 7, &e), 0);
  fs_tmp_discard(&t);
  ASSERT(!fs_exists(p));
  char *cmd = xasprintf("test -z \"$(ls -A %s)\"", test_tmpdir());
  ASSERT_EQ(system(cmd), 0);
  free(cmd);
  free(p);
}

TEST(mkdirs_and_remove_tree) {
  char *p = xasprintf("%s/a/b/c", test_tmpdir());
  oast_err e;
  ASSERT_EQ(fs_mkdirs(p, 0755, &e), 0);
  ASSERT(fs_is_dir(p));
  char *top = xasprintf("%s/a", test_tmpdir());
  ASSERT_EQ(fs_write_atomic(p, "x", 1, 0644, &e), OAST_EIO);  /* a directory is in the way */
  ASSERT_EQ(fs_remove_tree(top, &e), 0);
  ASSERT(!fs_exists(top));
  free(p);
  free(top);
}

TEST(mkdirs_below_never_recreates_its_base) {
  char *base = xasprintf("%s/proj", test_tmpdir());
  char *deep = xasprintf("%s/Logs/job/run-1", base);
  oast_err e;
  oast_err_clear(&e);
  ASSERT_EQ(fs_mkdirs(base, 0755, &e), 0);
  ASSERT_EQ(fs_mkdirs_below(base, deep, 0755, &e), 0);
  ASSERT(fs_is_dir(deep));
  ASSERT_EQ(fs_mkdirs_below(base, deep, 0755, &e), 0); /* existing: fine */
  ASSERT_EQ(fs_remove_tree(base, &e), 0);
  ASSERT_EQ(fs_mkdirs_below(base, deep, 0755, &e), OAST_ENOT_FOUND);
  ASSERT(!fs_exists(base));
  char *outside = xasprintf("%s/other/x", test_tmpdir());
  ASSERT_EQ(fs_mkdirs(base, 0755, &e), 0);
  ASSERT_EQ(fs_mkdirs_below(base, outside, 0755, &e), OAST_EINTERNAL);
  ASSERT(!fs_exists(outside));
  free(outside);
  free(deep);
  free(base);
}

TEST(json_getters_name_the_field) {
  json_t *o;
  oast_err e;
  const char *body = "{\"name\": 5, \"ok\": true}";
  ASSERT_EQ(json_parse_object(body, strlen(body), &o, &e), 0);
  const char *s = NULL;
  ASSERT_EQ(json_get_str(o, "name", true, &s, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "\"name\"") != NULL);
  ASSERT_EQ(json_get_str(o, "missing", true, &s, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "\"missing\" is required") != NULL);
  ASSERT_EQ(json_get_str(o, "missing", false, &s, &e), 0);
  bool b = false;
  ASSERT_EQ(json_get_bool(o, "ok", true, &b, &e), 0);
  ASSERT(b);
  json_decref(o);
  ASSERT_EQ(json_parse_object("{\"a\":", 5, &o, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "line 1") != NULL);
  ASSERT_EQ(json_parse_object("[1]", 3, &o, &e), OAST_EBAD_REQUEST);
}

TEST(secrets_are_random_and_hashed) {
  char *a = crypto_new_secret("oast_"), *b = crypto_new_secret("oast_");
  ASSERT_EQ(strlen(a), 5 + 64);
  ASSERT(strcmp(a, b) != 0);
  char h[65];
  crypto_sha256_hex("abc", 3, h);
  ASSERT_STREQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  free(a);
  free(b);
}

TEST(json_buf_string_escapes_like_json) {
  struct buf b;
  buf_init(&b, 0);
  json_buf_string(&b, "a\"b\\c\nd\x01" "é");
  ASSERT_STREQ(buf_cstr(&b), "\"a\\\"b\\\\c\\nd\\u0001é\"");
  json_t *j = json_loads(b.data, JSON_DECODE_ANY, NULL);
  ASSERT(j && json_is_string(j));
  ASSERT_STREQ(json_string_value(j), "a\"b\\c\nd\x01" "é");
  json_decref(j);
  buf_release(&b);
}
