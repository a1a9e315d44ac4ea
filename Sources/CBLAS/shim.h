#ifndef STRATA_CBLAS_SHIM_H
#define STRATA_CBLAS_SHIM_H
#include <cblas.h>

/// OpenBLAS thread control, declared here so Swift sees one stable name whatever the build exports.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
