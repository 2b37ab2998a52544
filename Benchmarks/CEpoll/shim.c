// SwiftPM needs one source file per C target; the header is all there is.
#include "CEpoll.h"
