/* SCAFFOLD: replaced by the helper that owns this file. */
#include <stdio.h>
#include "qtctl_models.h"
int qtctl_models(int argc, char **argv, int i, const char *config_path, bool json) { (void)argc; (void)argv; (void)i; (void)config_path; (void)json; fprintf(stderr, "qtctl models: not built yet\n"); return 1; }
