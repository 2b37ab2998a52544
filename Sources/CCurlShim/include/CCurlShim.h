#ifndef CCURLSHIM_H
#define CCURLSHIM_H
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic; Swift cannot call them directly.
CURLcode ingestd_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ingestd_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ingestd_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ingestd_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
#endif
