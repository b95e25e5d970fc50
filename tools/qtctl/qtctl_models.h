/* qtctl models: the model registry commands (list, show, promote, rollback, train).
 * argv[i..argc) are the arguments after "models"; config_path is services.yml (for
 * Redis), json selects machine-readable output. Exit: 0 ok, 1 failure, 2 usage. */
#ifndef QTCTL_MODELS_H
#define QTCTL_MODELS_H
#include <stdbool.h>
int qtctl_models(int argc, char **argv, int i, const char *config_path, bool json);
#endif
