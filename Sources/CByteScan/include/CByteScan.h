// Sixteen bytes at a time for the JSON string scanner: Swift has no portable way to turn a
// vector comparison into a bit mask (x86 PMOVMSKB). Header-only, so the function is inlined into
// the Swift caller. The string loop of the shape reader (JSONSkeleton), under callgrind: 11
// instructions per 16 bytes this way, 15 per 8 bytes with 64-bit SWAR in Swift.
#ifndef CBYTESCAN_H
#define CBYTESCAN_H

#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// Bit i is set when byte i of the 16 at `p` is below 0x20, at or above 0x80, '"' or '\\':
/// the bytes that end a plain JSON string. `p` needs 16 readable bytes; no alignment.
static inline uint32_t cbytescan_string_specials16(const uint8_t *p) {
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    // Signed: bytes >= 0x80 are negative, so one comparison finds both < 0x20 and >= 0x80.
    __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
    __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    return (uint32_t)_mm_movemask_epi8(_mm_or_si128(low, _mm_or_si128(quote, backslash)));
#else
    uint32_t mask = 0;
    for (int i = 0; i < 16; i++) {
        uint8_t b = p[i];
        if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') mask |= 1u << i;
    }
    return mask;
#endif
}

#endif
