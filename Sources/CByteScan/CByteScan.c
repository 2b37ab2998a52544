// The module is its header (static inline); SwiftPM needs one source file.
#include "CByteScan.h"
