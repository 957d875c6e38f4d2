/* test_yaml.c — util/yaml: YAML 1.2 core typing, collections, aliases, caps and errors. */
#include <jansson.h>

#include "test.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/yaml.h"

static json_t *load(const char *text) {
  json_t *j = NULL;
  oast_err e;
  oast_err_clear(&e);
  if (yaml_to_json(text, strlen(text), &j, &e)) {
    fprintf(stderr, "yaml_to_json failed: %s\n", e.msg);
    exit(1);
  }
  return j;
}

static void same(const char *yaml, const char *json) {
  json_t *a = load(yaml), *b = json_loads(json, JSON_DECODE_ANY, NULL);
  ASSERT(b != NULL);
  if (!json_equal(a, b)) {
    char *s = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    fprintf(stderr, "YAML %s\n gave %s\n want %s\n", yaml, s, json);
    exit(1);
  }
  json_decref(a);
  json_decref(b);
}

static void fails(const char *yaml, int code, const char *msg) {
  json_t *j = (json_t *)1;
  oast_err e;
  oast_err_clear(&e);
  int rc = yaml_to_json(yaml, strlen(yaml), &j, &e);
  if (rc != code || j != NULL || !strstr(e.msg, msg)) {
    fprintf(stderr, "YAML %s\n rc %d msg \"%s\", want %d with \"%s\"\n", yaml, rc, e.msg, code, msg);
    exit(1);
  }
}

TEST(yaml_core_scalar_types) {
  same("a: 1\nb: -42\nc: +7\nd: 0x1F\ne: 0o17\n", "{\"a\":1,\"b\":-42,\"c\":7,\"d\":31,\"e\":15}");
  same("a: 1.5\nb: -2e3\nc: .5\nd: 1.\n", "{\"a\":1.5,\"b\":-2000.0,\"c\":0.5,\"d\":1.0}");
  same("a: true\nb: False\nc: TRUE\nd: yes\ne: on\n", "{\"a\":true,\"b\":false,\"c\":true,\"d\":\"yes\",\"e\":\"on\"}");
  same("a: null\nb: ~\nc:\nd: Null\n", "{\"a\":null,\"b\":null,\"c\":null,\"d\":null}");
  same("a: hello world\nb: 1_000\nc: 0x\nd: 12:30\ne: 1.2.3\n",
       "{\"a\":\"hello world\",\"b\":\"1_000\",\"c\":\"0x\",\"d\":\"12:30\",\"e\":\"1.2.3\"}");
}

TEST(yaml_quoted_and_block_scalars_stay_strings) {
  same("a: \"1\"\nb: 'true'\nc: \"null\"\nd: '~'\n", "{\"a\":\"1\",\"b\":\"true\",\"c\":\"null\",\"d\":\"~\"}");
  same("a: |\n  line1\n  line2\nb: >\n  folded\n  text\n", "{\"a\":\"line1\\nline2\\n\",\"b\":\"folded text\\n\"}");
  same("a: !!str 42\nb: !!float 3\nc: !!int \"7\"\nd: !!bool \"true\"\n",
       "{\"a\":\"42\",\"b\":3.0,\"c\":7,\"d\":true}");
  same("\"k\": \"caf\\u00e9\"\n", "{\"k\":\"caf\xc3\xa9\"}");
}

TEST(yaml_block_and_flow_collections) {
  same("name: p\ntasks:\n  - name: a\n    depends_on: []\n  - {name: b, depends_on: [a]}\n",
       "{\"name\":\"p\",\"tasks\":[{\"name\":\"a\",\"depends_on\":[]},{\"name\":\"b\",\"depends_on\":[\"a\"]}]}");
  same("- [1, [2, 3]]\n- {}\n- []\n", "[[1,[2,3]],{},[]]");
  same("{\"a\": 1, \"b\": [true, null]}", "{\"a\":1,\"b\":[true,null]}");
  same("# only a comment\n", "null");
  same("", "null");
  same("---\nx: 1\n...\n", "{\"x\":1}");
  same("42", "42");
}

TEST(yaml_anchors_and_aliases_are_copied) {
  same("base: &b {retries: 2, delay: 5}\nx: *b\ny: *b\n",
       "{\"base\":{\"retries\":2,\"delay\":5},\"x\":{\"retries\":2,\"delay\":5},\"y\":{\"retries\":2,\"delay\":5}}");
  same("a: &s hello\nb: [*s, *s]\n", "{\"a\":\"hello\",\"b\":[\"hello\",\"hello\"]}");
  same("&k key: 1\nother: *k\n", "{\"key\":1,\"other\":\"key\"}");
  /* Copies are independent: changing one leaves the others. */
  json_t *j = load("base: &b {n: 1}\nx: *b\n");
  json_object_set_new(json_object_get(j, "x"), "n", json_integer(2));
  ASSERT_EQ(json_integer_value(json_object_get(json_object_get(j, "base"), "n")), 1);
  json_decref(j);
}

TEST(yaml_alias_bomb_and_caps) {
  /* Ten levels of nine-fold aliases would be 9^10 nodes. */
  struct buf b;
  buf_init(&b, 0);
  buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
  for (int i = 1; i <= 10; i++)
    buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1, i - 1,
               i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
  fails(buf_cstr(&b), OAST_ETOO_LARGE, "more than 100000 nodes");
  buf_reset(&b);
  for (int i = 0; i < 100; i++) buf_putc(&b, '[');
  for (int i = 0; i < 100; i++) buf_putc(&b, ']');
  fails(buf_cstr(&b), OAST_EBAD_REQUEST, "nesting deeper than 64 levels");
  buf_release(&b);
  char *big = xmalloc(YAML_JSON_MAX_BYTES + 2);
  memset(big, 'a', YAML_JSON_MAX_BYTES + 1);
  big[YAML_JSON_MAX_BYTES + 1] = '\0';
  fails(big, OAST_ETOO_LARGE, "larger than");
  free(big);
}

TEST(yaml_errors_name_line_and_column) {
  fails("a: 1\nb: [1, 2\n", OAST_EBAD_REQUEST, "YAML line 3");
  fails("a: 1\na: 2\n", OAST_EBAD_REQUEST, "YAML line 2, column 1: duplicate key \"a\"");
  fails("a: 1\n---\nb: 2\n", OAST_EBAD_REQUEST, "only one YAML document");
  fails("a: *nope\n", OAST_EBAD_REQUEST, "the alias *nope names no complete anchor");
  fails("a: &r [1, *r]\n", OAST_EBAD_REQUEST, "the alias *r names no complete anchor");
  fails("a: .inf\n", OAST_EBAD_REQUEST, ".inf is not a finite number");
  fails("a: 1e999\n", OAST_EBAD_REQUEST, "not a finite number");
  fails("a: 99999999999999999999\n", OAST_EBAD_REQUEST, "out of the 64-bit range");
  fails("a: !!int abc\n", OAST_EBAD_REQUEST, "\"abc\" is not a valid !!int");
  fails("a: !custom x\n", OAST_EBAD_REQUEST, "the tag !custom is not supported");
  fails("a: !!set {x}\n", OAST_EBAD_REQUEST, "is not supported on a mapping");
  fails("? [1, 2]\n: x\n", OAST_EBAD_REQUEST, "a mapping key must be a scalar");
  fails("a: b: c\n", OAST_EBAD_REQUEST, "YAML line 1, column 5");
}
