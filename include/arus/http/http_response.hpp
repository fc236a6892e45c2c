// HTTP/1.x response formatting shared by the listeners served by HttpServer: status line,
// headers and body, error responses, and bodies shared by reference. No I/O; thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace arus {

// A rendered body: immutable, shared by every response that sends it.
using SharedBody = std::shared_ptr<const std::string>;

// What a request handler answered, beyond the bytes it appended.
struct HttpResponse {
  bool close = false;  // the connection must close once it is sent (the client asked,
                       // HTTP/1.0 without keep-alive, or the request had a body the
                       // server does not read)
  SharedBody body;     // sent after the bytes appended to `out`; null when those are all
  // The handler took HttpServer::reply_later() and appended nothing: the response goes
  // through that reply, and later requests of the client wait for it.
  bool pending = false;
};

// Appends a whole response to `out` (its head alone when `head_only`: Content-Length is
// still that of `body`), with "Cache-Control: no-store", `extra_headers` (each line ending
// in CRLF) and, when `close`, "Connection: close"; an HTTP/1.0 client (`version_minor` 0)
// that may keep the connection gets "Connection: keep-alive".
void append_http_response(std::string& out, int status, int version_minor, bool close,
                          std::string_view content_type, std::string_view body, bool head_only,
                          std::string_view extra_headers = {});

// Appends an error response with "Connection: close" (400, 408, 414, 431, 503, 505...).
void append_error_response(int status, std::string& out);

// "Not Found" for 404 and so on; "Error" for codes it does not know.
std::string_view http_reason_phrase(int status);

}  // namespace arus
