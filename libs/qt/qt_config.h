/* qt_config: YAML configuration, validated at start.
 *
 * Why: a bad config must stop a service before it touches state, with an error that
 * names the file, the line, the key and what was expected. The loader keeps the YAML
 * tree with line numbers; typed getters look keys up by dotted path
 * ("services.qt-risk.admin_port"), check type and range, and record the first
 * error. A service reads every key it needs, then calls qt_config_error() once.
 *
 * Environment override: for path a.b-c the variable QT_A_B_C (upper case, '.' and
 * '-' become '_') wins over the file, for scalar getters.
 * Only block/flow maps, sequences and scalars are supported; anchors and aliases
 * are rejected (a config is data, not a program), and so are tags, non-scalar keys,
 * duplicate keys (the error names both lines), NUL bytes, several documents,
 * nesting deeper than 32 and texts over 4 MiB. The top level must be a map (an empty
 * file is an empty map).
 * Paths: in a sequence a decimal segment selects an item ("assets.0.symbol"); a key
 * containing '.' is still found; "" is the root. seq_len/map_len on a missing path
 * return 0 without an error (use qt_config_has for mandatory sections) and record
 * one when the path exists with another type. Env errors read
 * "env QT_A_B: key 'a.b': expected ..., got '...'"; a missing key reads "..., missing". */
#ifndef QT_CONFIG_H
#define QT_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "qt_money.h"

typedef struct qt_config_t qt_config_t;

/* NULL on failure, with "file:line:col: what" in err. */
qt_config_t *qt_config_load(const char *path, char *err, size_t errlen);
qt_config_t *qt_config_parse(const char *text, size_t len, const char *name, char *err,
                             size_t errlen);
void qt_config_destroy(qt_config_t **self_p);

/* Getters. dflt == NULL / required == true means the key must exist. On a missing
 * or invalid key they record an error (first one wins) and return the default
 * (or "" / 0). Error text example:
 *   "configs/risk.yml:12: key 'limits.max_gross': expected integer in [0, 1000000], got 'abc'" */
const char *qt_config_str(qt_config_t *self, const char *path, const char *dflt);
int64_t qt_config_int(qt_config_t *self, const char *path, bool required, int64_t dflt,
                      int64_t min, int64_t max);
double qt_config_double(qt_config_t *self, const char *path, bool required, double dflt,
                        double min, double max);
bool qt_config_bool(qt_config_t *self, const char *path, bool required, bool dflt);
/* Decimal string or number parsed with qt_fixed_parse (exact, no double round trip). */
qt_fixed_t qt_config_money(qt_config_t *self, const char *path, bool required, qt_fixed_t dflt);
bool qt_config_has(qt_config_t *self, const char *path);
/* Sequence of scalars at path: count, and the i-th string (NULL when out of range). */
size_t qt_config_seq_len(qt_config_t *self, const char *path);
const char *qt_config_seq_str(qt_config_t *self, const char *path, size_t i);
/* Keys of the map at path, in file order: count, and the i-th key. */
size_t qt_config_map_len(qt_config_t *self, const char *path);
const char *qt_config_map_key(qt_config_t *self, const char *path, size_t i);

/* First recorded error, or NULL when every getter so far succeeded. */
const char *qt_config_error(const qt_config_t *self);
const char *qt_config_name(const qt_config_t *self);

int qt_config_selftest(bool verbose);
#endif
