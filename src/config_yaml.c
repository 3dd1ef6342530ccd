/*
 * config_yaml.c: registry:2's config.yml, read as it is.
 *
 * libyaml loads the first document into a node graph; a walk over it
 * turns every mapping entry into an item named the way registry:2 names
 * the same setting in its environment (config_yaml.h), and config.c
 * decides what each item means, with the verdicts of its REGISTRY_*
 * table. This module knows YAML and registry:2's naming, nothing about
 * what a setting does.
 *
 * The walk is bounded: aliases may make a small file name a node many
 * times (or a node inside itself), so depth and the number of items
 * visited are capped, and the file's size is capped before parsing. It
 * runs twice: a first pass checks the whole structure and calls nothing,
 * so a file that is no usable YAML gets one error and no verdicts.
 *
 * libyaml 0.2.5 itself has no nesting limit, and its scanner takes time
 * quadratic in the nesting (200 KB of "[[[..." took 48 s to load), so
 * the events are read once before loading, to refuse a file nested
 * deeper than CY_NEST_MAX after reading only that far. Duplicate keys
 * are found by sorting a mapping's keys, not by comparing each with
 * every other one (20000 keys took 5 s).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "config_yaml.h"

#define CY_PATH_MAX  512    /* bytes of a dotted key or of its env name */
#define CY_LIST_MAX  8192   /* bytes of a list in the env form */
#define CY_DEPTH_MAX 16     /* nesting of mappings and sequences */
#define CY_ITEMS_MAX 100000 /* nodes visited, aliases counted each time */
#define CY_NEST_MAX  64     /* nesting while parsing, before the walk */

#define CY_ENV_PREFIX  "REGISTRY"
#define CY_ENV_HEADERS "REGISTRY_HTTP_HEADERS"
#define CY_ENV_STORAGE "REGISTRY_STORAGE"
#define CY_ENV_AUTH    "REGISTRY_AUTH"

/*
 * The entries of storage: that are parameters of the storage as a whole;
 * every other entry names the driver (registry:2's Storage.Type()).
 */
static const char *const cy_storage_params[] = {
    "delete",
    "maintenance",
    "cache",
    "redirect",
    "tag",
};

/* State of one walk. */
struct cy_walk {
	yaml_document_t *w_doc;
	config_yaml_fn w_fn;
	void *w_arg;
	char w_key[CY_PATH_MAX];       /* "http.tls.key" so far */
	char w_env[CY_PATH_MAX];       /* "REGISTRY_HTTP_TLS_KEY" so far */
	int w_lines[CY_DEPTH_MAX + 2]; /* of each key of w_key */
	int w_depth;                   /* keys in w_key */
	size_t w_items;
	int w_dry; /* first pass: check the structure, call nothing */
	char *w_err;
	size_t w_errlen;
	int *w_line;
};

static int cy_error(struct cy_walk *, const yaml_node_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static int cy_scalar(const yaml_node_t *, const char **);
static int cy_is_null(const yaml_node_t *);
static int cy_emit(struct cy_walk *, enum config_yaml_kind, const char *, int);
static int cy_list(struct cy_walk *, const yaml_node_t *, int);
static int cy_node(struct cy_walk *, const yaml_node_t *, int, int);
static int cy_map(struct cy_walk *, const yaml_node_t *, int);
static int cy_push(struct cy_walk *, const yaml_node_t *, const char *, int);
static int cy_is_type_key(const char *, const char *);
static int cy_key_cmp(const void *, const void *);
static int
cy_dup(struct cy_walk *, const yaml_node_t *, size_t *, const yaml_node_t **);
static int cy_nesting(const unsigned char *, size_t, char *, size_t, int *);

/* Record the first error of the walk; returns -1. */
static int
cy_error(struct cy_walk *w, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(w->w_err, w->w_errlen, fmt, ap);
	va_end(ap);
	*w->w_line = n != NULL ? (int)n->start_mark.line + 1 : 0;
	return -1;
}

/*
 * A scalar node's value as a C string: 0, or -1 when it holds a NUL byte
 * (a "\0" escape), which no setting can mean.
 */
static int
cy_scalar(const yaml_node_t *n, const char **out)
{
	const char *v = (const char *)n->data.scalar.value;

	if (strlen(v) != n->data.scalar.length)
		return -1;
	*out = v;
	return 0;
}

/*
 * YAML 1.1's null: an empty plain scalar, "~" or "null". libyaml's loader
 * tags every untagged scalar as a string, so this is checked here.
 */
static int
cy_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	size_t i;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	for (i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp((const char *)n->data.scalar.value, nulls[i]) == 0)
			return 1;
	return 0;
}

/* Call the callback for the item at the walk's current key. */
static int
cy_emit(struct cy_walk *w, enum config_yaml_kind kind, const char *value,
    int line)
{
	struct config_yaml_item it;

	if (w->w_dry)
		return 0;
	it.cy_key = w->w_key;
	it.cy_env = w->w_env;
	it.cy_kind = kind;
	it.cy_value = value;
	it.cy_line = line;
	it.cy_lines = w->w_lines;
	it.cy_depth = w->w_depth;
	return w->w_fn(&it, w->w_arg);
}

/*
 * A sequence: of scalars, one LIST item in the form registry:2's
 * environment takes, ["a", "b"], each item quoted so that commas inside
 * it stay in it; of anything else, one OTHER item.
 */
static int
cy_list(struct cy_walk *w, const yaml_node_t *n, int line)
{
	char buf[CY_LIST_MAX];
	const yaml_node_item_t *i;
	const yaml_node_t *item;
	const char *v;
	size_t o = 0, len;
	char q;

	for (i = n->data.sequence.items.start; i < n->data.sequence.items.top;
	     i++) {
		item = yaml_document_get_node(w->w_doc, *i);
		if (item == NULL || item->type != YAML_SCALAR_NODE)
			return cy_emit(w, CONFIG_YAML_OTHER, "", line) == -1
			    ? -1
			    : 0;
	}
	buf[o++] = '[';
	for (i = n->data.sequence.items.start; i < n->data.sequence.items.top;
	     i++) {
		item = yaml_document_get_node(w->w_doc, *i);
		if (cy_scalar(item, &v) == -1)
			return cy_error(w, item, "%s: NUL byte in a value",
			    w->w_key);
		if (cy_is_null(item))
			v = "";
		if (strchr(v, '"') == NULL)
			q = '"';
		else if (strchr(v, '\'') == NULL)
			q = '\'';
		else
			return cy_error(w, item,
			    "%s: a list item may hold \" or ', not both",
			    w->w_key);
		len = strlen(v);
		if (o + len + 6 > sizeof(buf))
			return cy_error(w, item,
			    "%s: list longer than %d bytes", w->w_key,
			    CY_LIST_MAX);
		if (o > 1) {
			buf[o++] = ',';
			buf[o++] = ' ';
		}
		buf[o++] = q;
		memcpy(buf + o, v, len);
		o += len;
		buf[o++] = q;
	}
	buf[o++] = ']';
	buf[o] = '\0';
	return cy_emit(w, CONFIG_YAML_LIST, buf, line) == -1 ? -1 : 0;
}

/*
 * The value node n of the entry at the walk's current key (whose line is
 * line): one item, and for a mapping its entries unless the callback
 * skips them.
 */
static int
cy_node(struct cy_walk *w, const yaml_node_t *n, int line, int depth)
{
	const char *v;
	int rv;

	if (++w->w_items > CY_ITEMS_MAX)
		return cy_error(w, n,
		    "more than %d items (aliases count each time they are "
		    "used)",
		    CY_ITEMS_MAX);
	if (depth > CY_DEPTH_MAX)
		return cy_error(w, n, "%s: nested deeper than %d levels",
		    w->w_key, CY_DEPTH_MAX);
	switch (n->type) {
	case YAML_SCALAR_NODE:
		if (cy_scalar(n, &v) == -1)
			return cy_error(w, n, "%s: NUL byte in a value",
			    w->w_key);
		if (cy_is_null(n))
			v = "";
		return cy_emit(w, CONFIG_YAML_SCALAR, v, line) == -1 ? -1 : 0;
	case YAML_SEQUENCE_NODE:
		return cy_list(w, n, line);
	case YAML_MAPPING_NODE:
		if ((rv = cy_emit(w, CONFIG_YAML_MAP, NULL, line)) != 0)
			return rv == -1 ? -1 : 0;
		return cy_map(w, n, depth);
	case YAML_NO_NODE:
		break;
	}
	return cy_error(w, n, "%s: unexpected YAML node", w->w_key);
}

/*
 * Append key to the walk's dotted key and env name; under http.headers
 * the key is a header name and keeps its case, elsewhere it is
 * upper-cased as registry:2 does. Returns 0, or -1 when too long.
 */
static int
cy_push(struct cy_walk *w, const yaml_node_t *kn, const char *key, int header)
{
	size_t klen = strlen(w->w_key), elen = strlen(w->w_env);
	size_t n = strlen(key), i;

	if (klen + n + 2 > sizeof(w->w_key) || elen + n + 2 > sizeof(w->w_env))
		return cy_error(w, kn, "%s.%.64s...: key path too long",
		    w->w_key, key);
	if (klen > 0)
		w->w_key[klen++] = '.';
	memcpy(w->w_key + klen, key, n + 1);
	w->w_env[elen++] = '_';
	for (i = 0; i <= n; i++)
		w->w_env[elen + i] =
		    header ? key[i] : (char)toupper((unsigned char)key[i]);
	return 0;
}

/*
 * 1 when key, in the mapping whose env name is env, names a driver or an
 * authentication scheme rather than a setting.
 */
static int
cy_is_type_key(const char *env, const char *key)
{
	size_t i;

	if (strcmp(env, CY_ENV_AUTH) == 0)
		return 1;
	if (strcmp(env, CY_ENV_STORAGE) != 0)
		return 0;
	for (i = 0;
	     i < sizeof(cy_storage_params) / sizeof(cy_storage_params[0]); i++)
		if (strcasecmp(key, cy_storage_params[i]) == 0)
			return 0;
	return 1;
}

/* A key of a mapping, for sorting: its text and its position. */
struct cy_key {
	const char *k_text;
	size_t k_index;
};

/* By text, ignoring case; equal texts by position. */
static int
cy_key_cmp(const void *a, const void *b)
{
	const struct cy_key *x = a, *y = b;
	int c;

	if ((c = strcasecmp(x->k_text, y->k_text)) != 0)
		return c;
	return x->k_index < y->k_index ? -1 : x->k_index > y->k_index;
}

/*
 * The first entry of mapping n (in document order) whose key an earlier
 * entry already has, ignoring case: its position in *dup and the node of
 * that earlier key in *first; *dup is left alone when there is none.
 * Keys that are no string are skipped (cy_map refuses them). -1 only
 * when out of memory.
 */
static int
cy_dup(struct cy_walk *w, const yaml_node_t *n, size_t *dup,
    const yaml_node_t **first)
{
	const yaml_node_pair_t *p, *start = n->data.mapping.pairs.start;
	const yaml_node_t *kn;
	struct cy_key *keys;
	size_t nkeys = 0, i, j;
	const char *key;

	if (n->data.mapping.pairs.top - start < 2)
		return 0;
	if ((keys = calloc((size_t)(n->data.mapping.pairs.top - start),
	         sizeof(*keys))) == NULL)
		return cy_error(w, n, "out of memory");
	for (p = start; p < n->data.mapping.pairs.top; p++) {
		kn = yaml_document_get_node(w->w_doc, p->key);
		if (kn == NULL || kn->type != YAML_SCALAR_NODE ||
		    cy_scalar(kn, &key) == -1)
			continue;
		keys[nkeys].k_text = key;
		keys[nkeys++].k_index = (size_t)(p - start);
	}
	qsort(keys, nkeys, sizeof(*keys), cy_key_cmp);
	for (i = 0; i < nkeys; i = j) {
		/* A run of equal keys: the first one and the second. */
		for (j = i + 1; j < nkeys &&
		     strcasecmp(keys[i].k_text, keys[j].k_text) == 0;
		     j++)
			;
		if (j - i > 1 && keys[i + 1].k_index < *dup) {
			*dup = keys[i + 1].k_index;
			*first = yaml_document_get_node(w->w_doc,
			    start[keys[i].k_index].key);
		}
	}
	free(keys);
	return 0;
}

/* The entries of mapping n, at the walk's current key. */
static int
cy_map(struct cy_walk *w, const yaml_node_t *n, int depth)
{
	char key0[CY_PATH_MAX], env0[CY_PATH_MAX], env1[CY_PATH_MAX];
	const yaml_node_pair_t *p;
	const yaml_node_t *kn, *vn, *kq = NULL;
	const char *key;
	size_t dup = SIZE_MAX;
	int header, line, rv;

	memcpy(key0, w->w_key, sizeof(key0));
	memcpy(env0, w->w_env, sizeof(env0));
	header = strcmp(env0, CY_ENV_HEADERS) == 0;
	/* The first pass has checked the keys of every mapping it saw. */
	if (w->w_dry && cy_dup(w, n, &dup, &kq) == -1)
		return -1;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		kn = yaml_document_get_node(w->w_doc, p->key);
		vn = yaml_document_get_node(w->w_doc, p->value);
		if (kn == NULL || vn == NULL)
			return cy_error(w, n, "%s: broken mapping", key0);
		line = (int)kn->start_mark.line + 1;
		if (kn->type != YAML_SCALAR_NODE || cy_scalar(kn, &key) == -1 ||
		    *key == '\0')
			return cy_error(w, kn,
			    "%s%sa key must be a non-empty string", key0,
			    *key0 != '\0' ? ": " : "");
		if (strcmp(key, "<<") == 0 &&
		    kn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return cy_error(w, kn,
			    "%s%sYAML merge keys (<<) are not supported; "
			    "write the keys out",
			    key0, *key0 != '\0' ? ": " : "");
		/*
		 * go-yaml refuses a key given twice; registry:2 names are
		 * case-insensitive in the environment, so "Addr" and "addr"
		 * are one setting, as header names are one header.
		 */
		if ((size_t)(p - n->data.mapping.pairs.start) == dup)
			return cy_error(w, kn,
			    "duplicate key '%.64s%s%.64s' (first at line %d)",
			    key0, *key0 != '\0' ? "." : "", key,
			    (int)kq->start_mark.line + 1);
		if (cy_push(w, kn, key, header) == -1)
			return -1;
		w->w_lines[depth] = line;
		w->w_depth = depth + 1;
		rv = 0;
		if (cy_is_type_key(env0, key)) {
			/* REGISTRY_STORAGE=<driver>, at the driver's key. */
			memcpy(env1, w->w_env, sizeof(env1));
			memcpy(w->w_env, env0, sizeof(env0));
			rv = cy_emit(w, CONFIG_YAML_SCALAR, key, line);
			memcpy(w->w_env, env1, sizeof(env1));
		}
		if (rv == -1)
			return -1;
		if (rv == 0 && cy_node(w, vn, line, depth + 1) == -1)
			return -1;
		memcpy(w->w_key, key0, sizeof(key0));
		memcpy(w->w_env, env0, sizeof(env0));
		w->w_depth = depth;
	}
	return 0;
}

/*
 * config_yaml_sniff: see config_yaml.h.
 */
int
config_yaml_sniff(const char *path, const char *head, size_t len)
{
	const char *p = head, *end = head + len, *dot;

	if (path != NULL && (dot = strrchr(path, '.')) != NULL &&
	    strchr(dot, '/') == NULL &&
	    (strcasecmp(dot, ".yml") == 0 || strcasecmp(dot, ".yaml") == 0))
		return 1;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			return 0;
		if (*p == '\n' || *p == '\r' || *p == '#') {
			while (p < end && *p != '\n')
				p++;
			if (p < end)
				p++;
			continue;
		}
		if (*p == '%' || (end - p >= 3 && memcmp(p, "---", 3) == 0))
			return 1;
		while (p < end &&
		    (isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
		        *p == '.'))
			p++;
		return p < end && *p == ':' &&
		    (p + 1 == end || p[1] == ' ' || p[1] == '\t' ||
		        p[1] == '\r' || p[1] == '\n');
	}
	return 0;
}

/*
 * Read buf's events up to its first document's end: 0 when it nests no
 * deeper than CY_NEST_MAX, else -1 with the message (a syntax error
 * found first is left to the loader, which reports it the same way).
 */
static int
cy_nesting(const unsigned char *buf, size_t len, char *err, size_t errlen,
    int *line)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, rv = 0, done = 0;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	while (!done && yaml_parser_parse(&parser, &ev)) {
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > CY_NEST_MAX) {
				*line = (int)ev.start_mark.line + 1;
				snprintf(err, errlen,
				    "YAML: nested deeper than %d levels",
				    CY_NEST_MAX);
				rv = -1;
				done = 1;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_DOCUMENT_END_EVENT:
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rv;
}

/*
 * config_yaml_read: see config_yaml.h.
 */
int
config_yaml_read(FILE *fp, size_t max, config_yaml_fn fn, void *arg, char *err,
    size_t errlen, int *line)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	const yaml_node_t *root;
	struct cy_walk w;
	unsigned char *buf;
	size_t len;
	int rv = -1;

	*line = 0;
	if ((buf = malloc(max + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	len = fread(buf, 1, max + 1, fp);
	if (ferror(fp)) {
		snprintf(err, errlen, "read error");
		free(buf);
		return -1;
	}
	if (len > max) {
		snprintf(err, errlen, "file larger than %zu bytes", max);
		free(buf);
		return -1;
	}
	if (cy_nesting(buf, len, err, errlen, line) == -1) {
		free(buf);
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "out of memory");
		free(buf);
		return -1;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		*line = (int)parser.problem_mark.line + 1;
		snprintf(err, errlen, "YAML: %s%s%s",
		    parser.problem != NULL ? parser.problem : "syntax error",
		    parser.context != NULL ? " " : "",
		    parser.context != NULL ? parser.context : "");
		yaml_parser_delete(&parser);
		free(buf);
		return -1;
	}
	memset(&w, 0, sizeof(w));
	w.w_doc = &doc;
	w.w_fn = fn;
	w.w_arg = arg;
	w.w_err = err;
	w.w_errlen = errlen;
	w.w_line = line;
	(void)snprintf(w.w_env, sizeof(w.w_env), "%s", CY_ENV_PREFIX);
	root = yaml_document_get_root_node(&doc);
	if (root == NULL || cy_is_null(root))
		rv = 0; /* an empty file: nothing set */
	else if (root->type != YAML_MAPPING_NODE)
		rv = cy_error(&w, root,
		    "expected registry:2's settings (version:, http:, "
		    "storage:, ...) at the top");
	else {
		w.w_dry = 1;
		if ((rv = cy_map(&w, root, 0)) == 0) {
			w.w_dry = 0;
			w.w_items = 0;
			rv = cy_map(&w, root, 0);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(buf);
	return rv;
}
