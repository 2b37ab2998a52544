#include <zlib.h>

/* inflateInit2 is a function-like macro, which Swift cannot call. */
static inline int czlib_inflate_init_gzip(z_streamp stream) {
    return inflateInit2(stream, 16 + MAX_WBITS);
}
