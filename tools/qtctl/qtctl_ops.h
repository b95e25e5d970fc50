/* qtctl mode | actions | diag: operating mode, the supervisor's proposed actions, and
 * the diagnostics report. argv[i..argc) are the arguments after the command name;
 * config_path is services.yml; json selects machine-readable output.
 * Exit: 0 ok, 1 failure, 2 usage. */
#ifndef QTCTL_OPS_H
#define QTCTL_OPS_H
#include <stdbool.h>
int qtctl_mode(int argc, char **argv, int i, const char *config_path, bool json);
int qtctl_actions(int argc, char **argv, int i, const char *config_path, bool json);
int qtctl_diag(int argc, char **argv, int i, const char *config_path, bool json);
#endif
