/*
 * test_cli.c — the pure pieces of the `oast` client (argument parsing,
 * config resolution, tables and cells, progress frames, remote paths, API
 * path escaping) and liboast's handling of answers, against a one-shot
 * fake server in a child process: the server's error message and code
 * come through, a body that is not Oast's error shape still gives a
 * sentence, an unreachable address names itself, and a download cut short
 * leaves the target file as it was.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/command.h"
#include "client/client_json.h"
#include "test.h"
#include "util/alloc.h"
#include "util/fs.h"

/* ---- arguments ---- */

static const struct cli_opt g_opts[] = {
    {"json", 0, NULL, ""},
    {"addr", 0, "URL", ""},
    {"help", 'h', NULL, ""},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt v_opts[] = {
    {"role", 'r', "ROLE", ""},
    {"recursive", 'R', NULL, ""},
    {NULL, 0, NULL, NULL},
};

TEST(cli_args_mix_options_and_positionals) {
  const struct cli_opt *const specs[] = {g_opts, v_opts, NULL};
  char *argv[] = {"demo", "--role", "data_owner", "bob", "--json", "--addr=http://h:1", "-R", "--", "--not-an-opt",
                  "-"};
  struct cli_args a;
  oast_err e;
  ASSERT_EQ(cli_args_parse(&a, specs, 10, argv, &e), 0);
  ASSERT_EQ(a.npos, 4);
  ASSERT_STREQ(a.pos[0], "demo");
  ASSERT_STREQ(a.pos[1], "bob");
  ASSERT_STREQ(a.pos[2], "--not-an-opt");
  ASSERT_STREQ(a.pos[3], "-");
  ASSERT_STREQ(cli_opt_get(&a, "role"), "data_owner");
  ASSERT_STREQ(cli_opt_get(&a, "addr"), "http://h:1");
  ASSERT(cli_flag(&a, "json"));
  ASSERT(cli_flag(&a, "recursive"));
  ASSERT(!cli_flag(&a, "help"));
  ASSERT(cli_opt_get(&a, "nonexistent") == NULL);
  cli_args_release(&a);
}

TEST(cli_args_refuse_unknown_and_missing_values) {
  const struct cli_opt *const specs[] = {g_opts, v_opts, NULL};
  struct cli_args a;
  oast_err e;
  char *unknown[] = {"x", "--colour"};
  ASSERT_EQ(cli_args_parse(&a, specs, 2, unknown, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "--colour") != NULL);
  char *missing[] = {"x", "--role"};
  ASSERT_EQ(cli_args_parse(&a, specs, 2, missing, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "--role") != NULL && strstr(e.msg, "ROLE") != NULL);
  char *flagval[] = {"--json=yes"};
  ASSERT_EQ(cli_args_parse(&a, specs, 1, flagval, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "takes no value") != NULL);
  char *shortunk[] = {"-z"};
  ASSERT_EQ(cli_args_parse(&a, specs, 1, shortunk, &e), OAST_EBAD_REQUEST);
  char *last[] = {"-r", "a", "--role", "b"};
  ASSERT_EQ(cli_args_parse(&a, specs, 4, last, &e), 0);
  ASSERT_STREQ(cli_opt_get(&a, "role"), "b");
  ASSERT_EQ(a.npos, 0);
  cli_args_release(&a);
}

/* ---- configuration ---- */

TEST(cli_config_path_prefers_oast_config) {
  char *p = cli_config_path("/x/c.json", "/home/u");
  ASSERT_STREQ(p, "/x/c.json");
  free(p);
  p = cli_config_path(NULL, "/home/u");
  ASSERT_STREQ(p, "/home/u/.config/oast/config.json");
  free(p);
  p = cli_config_path("", "");
  ASSERT(p == NULL);
}

TEST(cli_config_write_is_private_and_reads_back) {
  char *path = xasprintf("%s/sub/dir/config.json", test_tmpdir());
  oast_err e;
  ASSERT_EQ(cli_config_write(path, "http://h:7", "k1", &e), 0);
  struct stat st;
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  char *addr, *key;
  ASSERT_EQ(cli_config_read(path, &addr, &key, &e), 0);
  ASSERT_STREQ(addr, "http://h:7");
  ASSERT_STREQ(key, "k1");
  free(addr);
  free(key);
  /* Rewriting replaces the whole file. */
  ASSERT_EQ(cli_config_write(path, "http://other:8", "k2", &e), 0);
  ASSERT_EQ(cli_config_read(path, &addr, &key, &e), 0);
  ASSERT_STREQ(addr, "http://other:8");
  ASSERT_STREQ(key, "k2");
  free(addr);
  free(key);
  free(path);
}

TEST(cli_config_resolve_precedence) {
  char *path = xasprintf("%s/config.json", test_tmpdir());
  oast_err e;
  struct cli_config c;
  /* No file: defaults, no key. */
  ASSERT_EQ(cli_config_resolve(&c, NULL, NULL, NULL, NULL, path, &e), 0);
  ASSERT_STREQ(c.addr, OAST_DEFAULT_ADDR);
  ASSERT_STREQ(c.addr_from, "default");
  ASSERT(c.key == NULL);
  cli_config_release(&c);

  ASSERT_EQ(cli_config_write(path, "http://file:1", "filekey", &e), 0);
  ASSERT_EQ(cli_config_resolve(&c, NULL, NULL, NULL, NULL, path, &e), 0);
  ASSERT_STREQ(c.addr, "http://file:1");
  ASSERT_STREQ(c.key, "filekey");
  ASSERT_STREQ(c.key_from, path);
  cli_config_release(&c);

  /* The environment beats the file, each value on its own. */
  ASSERT_EQ(cli_config_resolve(&c, NULL, NULL, "http://env:2", NULL, path, &e), 0);
  ASSERT_STREQ(c.addr, "http://env:2");
  ASSERT_STREQ(c.addr_from, "OAST_ADDR");
  ASSERT_STREQ(c.key, "filekey");
  cli_config_release(&c);

  /* Flags beat everything. */
  ASSERT_EQ(cli_config_resolve(&c, "http://flag:3", "flagkey", "http://env:2", "envkey", path, &e), 0);
  ASSERT_STREQ(c.addr, "http://flag:3");
  ASSERT_STREQ(c.key, "flagkey");
  ASSERT_STREQ(c.key_from, "--key");
  cli_config_release(&c);

  ASSERT_EQ(cli_config_resolve(&c, NULL, NULL, NULL, "envkey", path, &e), 0);
  ASSERT_STREQ(c.key, "envkey");
  ASSERT_STREQ(c.key_from, "OAST_API_KEY");
  ASSERT_STREQ(c.addr, "http://file:1");
  cli_config_release(&c);
  free(path);
}

TEST(cli_config_broken_file_is_an_error_naming_it) {
  char *path = xasprintf("%s/config.json", test_tmpdir());
  oast_err e;
  ASSERT_EQ(fs_write_atomic(path, "not json", 8, 0600, &e), 0);
  struct cli_config c;
  ASSERT(cli_config_resolve(&c, NULL, NULL, NULL, NULL, path, &e) != 0);
  ASSERT(strstr(e.msg, path) != NULL);
  /* Not read at all when flags and environment give everything. */
  ASSERT_EQ(cli_config_resolve(&c, NULL, NULL, "http://e:1", "k", path, &e), 0);
  cli_config_release(&c);
  ASSERT_EQ(fs_write_atomic(path, "{\"addr\": 5}", 11, 0600, &e), 0);
  char *addr, *key;
  ASSERT(cli_config_read(path, &addr, &key, &e) != 0);
  ASSERT(strstr(e.msg, "\"addr\"") != NULL);
  free(path);
}

/* ---- tables and cells ---- */

TEST(cli_table_aligns_columns_by_characters) {
  static const char *const headers[] = {"NAME", "ROLE", "NOTE"};
  struct cli_table t;
  cli_table_init(&t, 3, headers);
  const char *r1[] = {"demo", "data_owner", "x"};
  const char *r2[] = {"\xc3\xa9t\xc3\xa9_long", NULL, ""};  /* "été_long": 8 characters, 10 bytes */
  cli_table_add(&t, r1);
  cli_table_add(&t, r2);
  char *s = cli_table_render(&t);
  ASSERT_STREQ(s, "NAME      ROLE        NOTE\n"
                  "demo      data_owner  x\n"
                  "\xc3\xa9t\xc3\xa9_long  -\n");
  free(s);
  cli_table_release(&t);
}

TEST(cli_table_empty_prints_the_header) {
  static const char *const headers[] = {"A", "B"};
  struct cli_table t;
  cli_table_init(&t, 2, headers);
  char *s = cli_table_render(&t);
  ASSERT_STREQ(s, "A  B\n");
  free(s);
  cli_table_release(&t);
}

TEST(cli_cells_from_json) {
  json_t *j = json_pack("{s:s, s:I, s:b, s:n, s:f, s:[i]}", "s", "a\tb\033[2J", "n", (json_int_t)3 << 20, "b", 1,
                        "z", "r", 1.5, "arr", 1);
  char *c;
  c = cli_cell_text(json_object_get(j, "s"), CELL_TEXT);
  ASSERT_STREQ(c, "a?b?[2J");
  free(c);
  c = cli_cell_text(json_object_get(j, "n"), CELL_TEXT);
  ASSERT_STREQ(c, "3145728");
  free(c);
  c = cli_cell_text(json_object_get(j, "n"), CELL_SIZE);
  ASSERT_STREQ(c, "3.0 MiB");
  free(c);
  c = cli_cell_text(json_object_get(j, "b"), CELL_YESNO);
  ASSERT_STREQ(c, "yes");
  free(c);
  c = cli_cell_text(json_object_get(j, "z"), CELL_TEXT);
  ASSERT_STREQ(c, "-");
  free(c);
  c = cli_cell_text(json_object_get(j, "missing"), CELL_TEXT);
  ASSERT_STREQ(c, "-");
  free(c);
  c = cli_cell_text(json_object_get(j, "r"), CELL_TEXT);
  ASSERT_STREQ(c, "1.5");
  free(c);
  c = cli_cell_text(json_object_get(j, "arr"), CELL_TEXT);
  ASSERT_STREQ(c, "[1]");
  free(c);
  json_decref(j);
  /* nested reals as people write them, not 0.10000000000000001 */
  j = json_pack("{s:f, s:f}", "lr", 0.1, "x", 0.0031622776601683794);
  c = cli_cell_text(j, CELL_TEXT);
  ASSERT_STREQ(c, "{\"lr\":0.1,\"x\":0.00316227766016838}");
  free(c);
  json_decref(j);
}

TEST(cli_human_sizes) {
  char b[32];
  ASSERT_STREQ(cli_human_size(0, b, sizeof b), "0 B");
  ASSERT_STREQ(cli_human_size(1023, b, sizeof b), "1023 B");
  ASSERT_STREQ(cli_human_size(1536, b, sizeof b), "1.5 KiB");
  ASSERT_STREQ(cli_human_size((uint64_t)5 << 30, b, sizeof b), "5.0 GiB");
}

TEST(cli_progress_frames) {
  char b[256];
  cli_progress_format(b, sizeof b, 80, "demo/Resources/a.csv", 1 << 20, 4 << 20, 1.0);
  ASSERT_STREQ(b, "demo/Resources/a.csv  25% [###...........]  1.0 MiB / 4.0 MiB  1.0 MiB/s");
  cli_progress_format(b, sizeof b, 80, "x", 3 << 20, 0, 0);
  ASSERT_STREQ(b, "x  3.0 MiB  0 B/s");
  /* More than the total (a growing file) stays at 100%; a long label is shortened from the left. */
  cli_progress_format(b, sizeof b, 60, "a/very/long/path/that/does/not/fit/in/the/line.bin", 9, 4, 1.0);
  ASSERT(strlen(b) < 60);
  ASSERT(strstr(b, "100% [##############]") != NULL);
  ASSERT(strncmp(b, "...", 3) == 0);
  ASSERT(strstr(b, "line.bin") != NULL);
}

/* ---- remote paths and API paths ---- */

TEST(cli_remote_paths) {
  char *p, *r;
  bool slash;
  oast_err e;
  ASSERT_EQ(cli_remote_parse("demo/Resources/a/b.csv", &p, &r, &slash, &e), 0);
  ASSERT_STREQ(p, "demo");
  ASSERT_STREQ(r, "Resources/a/b.csv");
  ASSERT(!slash);
  free(p);
  free(r);
  ASSERT_EQ(cli_remote_parse("/demo//q::ds/dir/", &p, &r, &slash, &e), 0);
  ASSERT_STREQ(p, "demo");
  ASSERT_STREQ(r, "q::ds/dir");
  ASSERT(slash);
  free(p);
  free(r);
  ASSERT_EQ(cli_remote_parse("demo", &p, &r, &slash, &e), 0);
  ASSERT_STREQ(r, "");
  free(p);
  free(r);
  ASSERT_EQ(cli_remote_parse("//", &p, &r, &slash, &e), OAST_EBAD_REQUEST);
  ASSERT(strstr(e.msg, "PROJECT/DATASET/PATH") != NULL);
}

TEST(cli_api_paths_escape_each_piece) {
  char *s = cli_path("/projects/%s/files/%P?op=preview&mode=%r&lines=%d", "de mo", "Resources/a b/c%.csv", "head", 5);
  ASSERT_STREQ(s, "/projects/de%20mo/files/Resources/a%20b/c%25.csv?op=preview&mode=head&lines=5");
  free(s);
  s = cli_path("/users/me/api-keys/%s", "a/b");
  ASSERT_STREQ(s, "/users/me/api-keys/a%2Fb");
  free(s);
}

/* ---- liboast against a one-shot fake server ---- */

/* Listens on a free loopback port, forks a child that answers one request with `answer`, returns the port. */
static int fake_server(const char *answer, pid_t *child) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT(s >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ASSERT_EQ(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
  ASSERT_EQ(listen(s, 4), 0);
  socklen_t len = sizeof sa;
  ASSERT_EQ(getsockname(s, (struct sockaddr *)&sa, &len), 0);
  *child = fork();
  ASSERT(*child >= 0);
  if (*child == 0) {
    int c = accept(s, NULL, NULL);
    char req[8192];
    size_t got = 0;
    while (got < sizeof req - 1) {
      ssize_t n = read(c, req + got, sizeof req - 1 - got);
      if (n <= 0) break;
      got += (size_t)n;
      req[got] = '\0';
      if (strstr(req, "\r\n\r\n")) break;
    }
    ssize_t ignored = write(c, answer, strlen(answer));
    (void)ignored;
    shutdown(c, SHUT_RDWR);
    close(c);
    _exit(0);
  }
  close(s);
  return ntohs(sa.sin_port);
}

static oast_client *client_for(int port) {
  char *addr = xasprintf("127.0.0.1:%d", port);
  oast_client *c = oast_client_new(addr, "k");
  free(addr);
  ASSERT(c != NULL);
  return c;
}

TEST(client_reports_the_servers_error) {
  pid_t child;
  const char *body = "{\"error\": {\"code\": \"forbidden\", \"message\": \"your role may not upload\"}}";
  char *answer = xasprintf("HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n\r\n%s",
                           strlen(body), body);
  int port = fake_server(answer, &child);
  oast_client *c = client_for(port);
  ASSERT(strncmp(oast_client_addr(c), "http://127.0.0.1:", 17) == 0);
  oast_err e;
  int status = 0;
  char *resp = (char *)"unchanged";
  ASSERT_EQ(oast_request(c, "GET", "/projects", NULL, &status, &resp, &e), OAST_EFORBIDDEN);
  ASSERT_EQ(status, 403);
  ASSERT(resp == NULL);
  ASSERT_EQ(e.code, OAST_EFORBIDDEN);
  ASSERT_STREQ(e.msg, "your role may not upload");
  oast_client_free(c);
  waitpid(child, NULL, 0);
  free(answer);
}

TEST(client_names_a_foreign_error_body) {
  pid_t child;
  int port = fake_server("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 12\r\nConnection: close\r\n\r\nproxy broke\n",
                         &child);
  oast_client *c = client_for(port);
  oast_err e;
  json_t *out = NULL;
  ASSERT_EQ(client_request_json(c, "GET", "/health", NULL, NULL, &out, &e), OAST_EINTERNAL);
  ASSERT(out == NULL);
  ASSERT(strstr(e.msg, "HTTP 502") != NULL);
  ASSERT(strstr(e.msg, "proxy broke") != NULL);
  oast_client_free(c);
  waitpid(child, NULL, 0);
}

TEST(client_parses_json_and_empty_answers) {
  pid_t child;
  int port = fake_server("HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"version\":\"9\"}",
                         &child);
  oast_client *c = client_for(port);
  oast_err e;
  json_t *out = NULL;
  int status = 0;
  ASSERT_EQ(client_request_json(c, "GET", "/health", NULL, &status, &out, &e), 0);
  ASSERT_EQ(status, 200);
  ASSERT_STREQ(json_string_value(json_object_get(out, "version")), "9");
  json_decref(out);
  waitpid(child, NULL, 0);
  port = fake_server("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", &child);
  oast_client_free(c);
  c = client_for(port);
  out = json_object();
  ASSERT_EQ(client_request_json(c, "DELETE", "/projects/x", NULL, &status, &out, &e), 0);
  ASSERT_EQ(status, 204);
  ASSERT(out == NULL);
  oast_client_free(c);
  waitpid(child, NULL, 0);
}

TEST(client_unreachable_names_the_address) {
  /* A port that was just free and has no listener. */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ASSERT_EQ(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
  socklen_t len = sizeof sa;
  getsockname(s, (struct sockaddr *)&sa, &len);
  close(s);
  oast_client *c = client_for(ntohs(sa.sin_port));
  oast_err e;
  int status = -1;
  ASSERT_EQ(oast_request(c, "GET", "/health", NULL, &status, NULL, &e), OAST_ECONNECT);
  ASSERT_EQ(status, 0);
  ASSERT(strstr(e.msg, oast_client_addr(c)) != NULL);
  oast_client_free(c);
}

TEST(client_download_cut_short_keeps_the_old_file) {
  char *target = xasprintf("%s/data.bin", test_tmpdir());
  oast_err e;
  ASSERT_EQ(fs_write_atomic(target, "old", 3, 0644, &e), 0);
  pid_t child;
  /* Promises 100 bytes, sends 5, closes. */
  int port = fake_server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nhello", &child);
  oast_client *c = client_for(port);
  ASSERT(oast_download_file(c, "/projects/p/files/ds/data.bin", target, NULL, NULL, NULL, &e) != 0);
  char *text;
  size_t n;
  ASSERT_EQ(fs_read_all(target, 0, &text, &n, &e), 0);
  ASSERT_STREQ(text, "old");
  free(text);
  waitpid(child, NULL, 0);

  /* An error answer never lands in the file either. */
  port = fake_server("HTTP/1.1 404 Not Found\r\nContent-Length: 55\r\nConnection: close\r\n\r\n"
                     "{\"error\":{\"code\":\"not_found\",\"message\":\"no such file\"}}",
                     &child);
  oast_client_free(c);
  c = client_for(port);
  ASSERT_EQ(oast_download_file(c, "/x", target, NULL, NULL, NULL, &e), OAST_ENOT_FOUND);
  ASSERT_STREQ(e.msg, "no such file");
  ASSERT_EQ(fs_read_all(target, 0, &text, &n, &e), 0);
  ASSERT_STREQ(text, "old");
  free(text);
  waitpid(child, NULL, 0);

  /* A whole answer replaces it. */
  port = fake_server("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfresh", &child);
  oast_client_free(c);
  c = client_for(port);
  uint64_t size = 0;
  ASSERT_EQ(oast_download_file(c, "/x", target, NULL, NULL, &size, &e), 0);
  ASSERT_EQ(size, 5);
  ASSERT_EQ(fs_read_all(target, 0, &text, &n, &e), 0);
  ASSERT_STREQ(text, "fresh");
  free(text);
  waitpid(child, NULL, 0);
  oast_client_free(c);
  free(target);
}
