// Response heads and error responses for HttpServer and its request handlers.
#include "arus/http/http_response.hpp"

#include <cstdio>
#include <utility>

namespace arus {
namespace {

constexpr const char* kTextContentType = "text/plain; charset=utf-8";

}  // namespace

void append_http_response(std::string& out, int status, int version_minor, bool close,
                          std::string_view content_type, std::string_view body, bool head_only,
                          std::string_view extra_headers) {
  char line[64];
  snprintf(line, sizeof line, "HTTP/1.%d %d ", version_minor >= 1 ? 1 : 0, status);
  out += line;
  out += http_reason_phrase(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  snprintf(line, sizeof line, "\r\nContent-Length: %zu\r\n", body.size());
  out += line;
  out += "Cache-Control: no-store\r\n";
  out += extra_headers;
  // HTTP/1.1 keeps alive by default; HTTP/1.0 only with an explicit keep-alive.
  if (close) {
    out += "Connection: close\r\n";
  } else if (version_minor == 0) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!head_only) out += body;
}

std::string_view http_reason_phrase(int status) {
  static constexpr std::pair<int, std::string_view> kPhrases[] = {
      {200, "OK"},
      {202, "Accepted"},
      {400, "Bad Request"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {422, "Unprocessable Content"},
      {408, "Request Timeout"},
      {411, "Length Required"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {503, "Service Unavailable"},
      {505, "HTTP Version Not Supported"},
  };
  for (const auto& [code, phrase] : kPhrases) {
    if (code == status) return phrase;
  }
  return "Error";
}

void append_error_response(int status, std::string& out) {
  std::string body(http_reason_phrase(status));
  for (char& c : body) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  body += '\n';
  append_http_response(out, status, 1, true, kTextContentType, body, false);
}

}  // namespace arus
