/*
 * migrations.c — the schema, as an ordered list of migrations. Never edit
 * a migration that has shipped; append a new one. Each runs in its own
 * transaction and bumps PRAGMA user_version (meta.c).
 */
#include "meta/meta.h"

const struct migration meta_migrations[] = {
    {"users, keys, tokens, projects, members, datasets, shares, audit",
     "CREATE TABLE users ("
     "  id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, pw_hash TEXT,"
     "  admin INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
     "CREATE TABLE api_keys ("
     "  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     "  name TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, created INTEGER NOT NULL,"
     "  UNIQUE(user_id, name));"
     "CREATE TABLE tokens ("
     "  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     "  token_hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, project_id INTEGER,"
     "  expires INTEGER NOT NULL, created INTEGER NOT NULL);"
     "CREATE INDEX tokens_expires ON tokens(expires);"
     "CREATE TABLE projects ("
     "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '',"
     "  owner_id INTEGER NOT NULL REFERENCES users(id), created INTEGER NOT NULL);"
     "CREATE TABLE members ("
     "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
     "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
     "  role TEXT NOT NULL CHECK (role IN ('data_owner','data_scientist')),"
     "  added INTEGER NOT NULL, PRIMARY KEY (project_id, user_id));"
     "CREATE INDEX members_user ON members(user_id);"
     "CREATE TABLE datasets ("
     "  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
     "  name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', builtin INTEGER NOT NULL DEFAULT 0,"
     "  created INTEGER NOT NULL, UNIQUE(project_id, name));"
     "CREATE TABLE shares ("
     "  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,"
     "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
     "  permission TEXT NOT NULL CHECK (permission IN ('read','read_write')),"
     "  status TEXT NOT NULL CHECK (status IN ('pending','accepted')),"
     "  created INTEGER NOT NULL, PRIMARY KEY (dataset_id, project_id));"
     "CREATE INDEX shares_project ON shares(project_id);"
     "CREATE TABLE audit ("
     "  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, user TEXT NOT NULL, project_id INTEGER,"
     "  action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL, status INTEGER NOT NULL,"
     "  detail TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX audit_project ON audit(project_id, id)"},
    {"feature groups, commits, expectations, validations",
     "CREATE TABLE featuregroups ("
     "  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
     "  name TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL DEFAULT '',"
     "  spec TEXT NOT NULL, online_enabled INTEGER NOT NULL DEFAULT 0, creator TEXT NOT NULL,"
     "  created INTEGER NOT NULL, UNIQUE(project_id, name, version));"
     "CREATE TABLE fg_commits ("
     "  id INTEGER PRIMARY KEY, fg_id INTEGER NOT NULL REFERENCES featuregroups(id) ON DELETE CASCADE,"
     "  committed_on INTEGER NOT NULL, operation TEXT NOT NULL, file TEXT,"
     "  rows INTEGER NOT NULL, rows_inserted INTEGER NOT NULL, rows_updated INTEGER NOT NULL,"
     "  rows_deleted INTEGER NOT NULL DEFAULT 0, stats TEXT, snapshot_file TEXT);"
     "CREATE INDEX fg_commits_fg ON fg_commits(fg_id, id);"
     "CREATE TABLE fg_expectations ("
     "  fg_id INTEGER PRIMARY KEY REFERENCES featuregroups(id) ON DELETE CASCADE,"
     "  suite TEXT NOT NULL, updated INTEGER NOT NULL);"
     "CREATE TABLE fg_validations ("
     "  id INTEGER PRIMARY KEY, fg_id INTEGER NOT NULL REFERENCES featuregroups(id) ON DELETE CASCADE,"
     "  commit_id INTEGER, time INTEGER NOT NULL, success INTEGER NOT NULL, ingested INTEGER NOT NULL,"
     "  report TEXT NOT NULL);"
     "CREATE INDEX fg_validations_fg ON fg_validations(fg_id, id)"},
    {"model registry, provenance",
     "CREATE TABLE models ("
     "  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
     "  name TEXT NOT NULL, version INTEGER NOT NULL, framework TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
     "  metrics TEXT NOT NULL, input_example TEXT, model_schema TEXT, experiment_id INTEGER, trial_id INTEGER,"
     "  training_data TEXT, source_path TEXT NOT NULL, creator TEXT NOT NULL, created INTEGER NOT NULL,"
     "  UNIQUE(project_id, name, version));"
     "CREATE TABLE provenance ("
     "  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
     "  src_kind TEXT NOT NULL, src TEXT NOT NULL, dst_kind TEXT NOT NULL, dst TEXT NOT NULL,"
     "  relation TEXT NOT NULL, created INTEGER NOT NULL);"
     "CREATE INDEX provenance_src ON provenance(project_id, src_kind, src);"
     "CREATE INDEX provenance_dst ON provenance(project_id, dst_kind, dst)"},
    {"model deployments",
     "CREATE TABLE deployments ("
     "  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
     "  name TEXT NOT NULL UNIQUE, model TEXT NOT NULL, model_version INTEGER NOT NULL, spec TEXT NOT NULL,"
     "  state TEXT NOT NULL CHECK (state IN ('stopped','running')), creator TEXT NOT NULL,"
     "  created INTEGER NOT NULL, updated INTEGER NOT NULL);"
     "CREATE INDEX deployments_project ON deployments(project_id)"},
    {"feature views, training datasets",
     "CREATE TABLE featureviews ("
     "  id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
     "  name TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL DEFAULT '',"
     "  spec TEXT NOT NULL, creator TEXT NOT NULL, created INTEGER NOT NULL, UNIQUE(project_id, name, version));"
     "CREATE TABLE training_datasets ("
     "  id INTEGER PRIMARY KEY, fv_id INTEGER NOT NULL REFERENCES featureviews(id) ON DELETE CASCADE,"
     "  version INTEGER NOT NULL, format TEXT NOT NULL, spec TEXT NOT NULL, result TEXT NOT NULL,"
     "  path TEXT NOT NULL, creator TEXT NOT NULL, created INTEGER NOT NULL, UNIQUE(fv_id, version))"},
    {"experiments, trials",
     "CREATE TABLE experiments ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
     "  user_id INTEGER NOT NULL REFERENCES users(id), creator TEXT NOT NULL,"
     "  name TEXT NOT NULL, spec TEXT NOT NULL,"
     "  state TEXT NOT NULL CHECK (state IN ('running','finished','failed','killed')),"
     "  opt_head TEXT, best_trial INTEGER, best_metric REAL, message TEXT,"
     "  created INTEGER NOT NULL, ended INTEGER);"
     "CREATE INDEX experiments_project ON experiments(project_id, id);"
     "CREATE INDEX experiments_state ON experiments(state);"
     "CREATE TABLE trials ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,"
     "  number INTEGER NOT NULL, params TEXT NOT NULL,"
     "  state TEXT NOT NULL CHECK (state IN ('running','finished','early_stopped','failed','killed')),"
     "  metric REAL, outputs TEXT, exit_code INTEGER, signal INTEGER, timed_out INTEGER NOT NULL DEFAULT 0,"
     "  error TEXT, log_tail TEXT, budget REAL, rung INTEGER NOT NULL DEFAULT 0, parent INTEGER,"
     "  opt TEXT NOT NULL, token_hash TEXT, gpus TEXT, attempts INTEGER NOT NULL DEFAULT 1,"
     "  submitted INTEGER, started INTEGER, ended INTEGER,"
     "  UNIQUE (experiment_id, number))"},
    {"distributed training workers",
     "ALTER TABLE trials ADD COLUMN workers TEXT"},
};

const int meta_migrations_count = (int)(sizeof meta_migrations / sizeof meta_migrations[0]);
