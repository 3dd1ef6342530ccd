#ifndef REGISTRYD_CONFIG_YAML_H
#define REGISTRYD_CONFIG_YAML_H

#include <stddef.h>
#include <stdio.h>

/*
 * registry:2's own configuration file (config.yml), read with libyaml and
 * turned into the REGISTRY_* names registry:2 itself derives from it: the
 * keys from the top, upper-cased and joined with '_' (http.tls.key is
 * REGISTRY_HTTP_TLS_KEY). config.c then gives every item the verdict its
 * environment variable would get, so the file and the environment can
 * never disagree about what a setting means.
 *
 * Two things are not plain paths, because registry:2 reads them so:
 *   - the entries of storage: and auth: other than storage's own
 *     parameters (delete, maintenance, cache, redirect, tag) name the
 *     driver or the authentication scheme: each is first given as
 *     REGISTRY_STORAGE=<name> or REGISTRY_AUTH=<name>;
 *   - the keys under http.headers are header names, kept as written.
 */

/* What an item's node is. */
enum config_yaml_kind {
	CONFIG_YAML_SCALAR, /* cy_value: the scalar; "" for null */
	CONFIG_YAML_LIST,   /* a sequence of scalars; cy_value: ["a", "b"] */
	CONFIG_YAML_MAP,    /* a mapping; its entries follow unless skipped */
	CONFIG_YAML_OTHER,  /* a sequence of mappings or sequences; "" */
};

/* One item, borrowed for the callback only. */
struct config_yaml_item {
	const char *cy_key; /* "http.tls.key": the keys as written */
	const char *cy_env; /* "REGISTRY_HTTP_TLS_KEY" */
	enum config_yaml_kind cy_kind;
	const char *cy_value;
	int cy_line; /* of the key, from 1 */
	/* The line of each key of cy_key: [0] "http", [1] "tls", ... */
	const int *cy_lines;
	int cy_depth; /* entries in cy_lines */
};

/*
 * Called for every item, in the file's order, a mapping before its
 * entries. Returns 0 to go on (into a mapping's entries), 1 to skip a
 * mapping's entries (or, after a REGISTRY_STORAGE or REGISTRY_AUTH item,
 * the driver's own mapping).
 */
typedef int (*config_yaml_fn)(const struct config_yaml_item *, void *);

/*
 * config_yaml_sniff: 1 when a configuration file is YAML rather than INI:
 * its name ends in .yml or .yaml, or its first line that is neither blank
 * nor a '#' comment is "---", a "%" directive or "key:" (an INI file's is
 * "[section]" or "key = value"). head holds the file's first len bytes.
 */
int config_yaml_sniff(const char *path, const char *head, size_t len);

/*
 * config_yaml_read: parse the first YAML document of fp (at most max
 * bytes) and call fn for its items. Returns 0, or -1 when the file is no
 * usable YAML (syntax, a duplicate key, a key that is not a scalar, merge
 * keys, too deep or too many items): the message is in err and its line
 * (0 when none) in *line; items before that point have been given to fn.
 */
int config_yaml_read(FILE *fp, size_t max, config_yaml_fn fn, void *arg,
    char *err, size_t errlen, int *line);

#endif /* REGISTRYD_CONFIG_YAML_H */
