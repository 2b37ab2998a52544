#include "CCurlShim.h"
#include <pthread.h>
#include <string.h>

CURLcode ingestd_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode ingestd_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode ingestd_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
CURLcode ingestd_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
CURLcode ingestd_curl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result = CURLE_OK;
static void global_init(void) { global_result = curl_global_init(CURL_GLOBAL_ALL); }

CURLcode ingestd_curl_global_init_once(void) {
    pthread_once(&global_once, global_init);
    return global_result;
}

int ingestd_curl_multi_done(CURLM *multi, CURLcode *result) {
    int left = 0;
    CURLMsg *message;
    while ((message = curl_multi_info_read(multi, &left)) != NULL) {
        if (message->msg == CURLMSG_DONE) {
            *result = message->data.result;
            return 1;
        }
    }
    return 0;
}

static size_t capture_write(char *data, size_t size, size_t count, void *userdata) {
    ingestd_curl_capture *capture = userdata;
    size_t total = size * count;
    size_t room = sizeof(capture->bytes) - capture->length;
    size_t take = total < room ? total : room;
    memcpy(capture->bytes + capture->length, data, take);
    capture->length += take;
    return total;
}

CURLcode ingestd_curl_capture_body(CURL *handle, ingestd_curl_capture *capture) {
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, capture_write);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(handle, CURLOPT_WRITEDATA, capture);
}
