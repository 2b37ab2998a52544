#ifndef CCURLSHIM_H
#define CCURLSHIM_H
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic; Swift cannot call them directly.
CURLcode ingestd_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ingestd_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ingestd_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ingestd_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ingestd_curl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);

// curl_global_init is not thread-safe and must run once per process before any handle is
// made: this runs it exactly once (pthread_once), whichever thread gets here first.
CURLcode ingestd_curl_global_init_once(void);

// The result of the transfer that finished on `multi` (CURLMsg's union is awkward in Swift):
// 1 and *result set when a message was read, 0 when none is left.
int ingestd_curl_multi_done(CURLM *multi, CURLcode *result);

// A response body, kept in one of two ways:
// - keep_all == 0: the first `limit` bytes (the rest is read and dropped): what an error message
//   quotes (webhook receivers).
// - keep_all == 1: the whole body in a buffer grown with realloc; a body longer than `limit`
//   stops the transfer (the write callback returns 0, so curl fails with CURLE_WRITE_ERROR) and
//   sets `overflowed` (AWS answers, which are parsed whole).
// Reset before each transfer with ingestd_curl_body_reset; free with ingestd_curl_body_free.
typedef struct {
    unsigned char *bytes;
    size_t length;
    size_t capacity;
    size_t limit;
    int keep_all;
    int overflowed;
    int out_of_memory;
} ingestd_curl_body;
CURLcode ingestd_curl_capture_body(CURL *handle, ingestd_curl_body *body);
void ingestd_curl_body_reset(ingestd_curl_body *body);
void ingestd_curl_body_free(ingestd_curl_body *body);
#endif
