#include "CCurlShim.h"
#include <pthread.h>
#include <stdlib.h>
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
    ingestd_curl_body *body = userdata;
    size_t total = size * count;
    if (!body->keep_all) {
        size_t room = body->limit > body->length ? body->limit - body->length : 0;
        size_t take = total < room ? total : room;
        if (take > 0) {
            if (body->capacity < body->limit) {
                unsigned char *grown = realloc(body->bytes, body->limit);
                if (grown == NULL) { body->out_of_memory = 1; return 0; }
                body->bytes = grown;
                body->capacity = body->limit;
            }
            memcpy(body->bytes + body->length, data, take);
            body->length += take;
        }
        return total;
    }
    if (total > body->limit - body->length) {  // length <= limit always holds
        body->overflowed = 1;
        return 0;
    }
    size_t needed = body->length + total;
    if (needed > body->capacity) {
        size_t grow = body->capacity < 16384 ? 16384 : body->capacity * 2;
        if (grow < needed) grow = needed;
        if (grow > body->limit) grow = body->limit;
        unsigned char *grown = realloc(body->bytes, grow);
        if (grown == NULL) { body->out_of_memory = 1; return 0; }
        body->bytes = grown;
        body->capacity = grow;
    }
    memcpy(body->bytes + body->length, data, total);
    body->length = needed;
    return total;
}

CURLcode ingestd_curl_capture_body(CURL *handle, ingestd_curl_body *body) {
    CURLcode rc = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, capture_write);
    if (rc != CURLE_OK) return rc;
    return curl_easy_setopt(handle, CURLOPT_WRITEDATA, body);
}

void ingestd_curl_body_reset(ingestd_curl_body *body) {
    body->length = 0;
    body->overflowed = 0;
    body->out_of_memory = 0;
    // A large answer does not keep its buffer for the session's life.
    if (body->capacity > 1024 * 1024) {
        free(body->bytes);
        body->bytes = NULL;
        body->capacity = 0;
    }
}

void ingestd_curl_body_free(ingestd_curl_body *body) {
    free(body->bytes);
    body->bytes = NULL;
    body->capacity = 0;
    body->length = 0;
}
