// The `http` built-in: one POST per attempt with cpp-httplib. The host check
// looks at the URL text only (no DNS), so a name resolving to loopback is not
// loopback unless it is "localhost" or on the allow-list.
#include "actors/handlers/builtin_handlers.hpp"

#include <httplib.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <regex>

namespace tasker::actors::handlers {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// The parts of an http(s) URL; nullopt when it is not one.
struct url_parts {
  std::string scheme, host, port, path;
};

std::optional<url_parts> split_url(const std::string& url) {
  static const std::regex re{R"(^(https?)://(\[[0-9A-Fa-f:.]+\]|[^/:?#\[\]@]+)(?::(\d{1,5}))?([/?].*)?$)"};
  std::smatch m;
  if (!std::regex_match(url, m, re))
    return std::nullopt;
  url_parts u{lower(m[1]), lower(m[2]), m[3], m[4]};
  if (u.path.empty())
    u.path = "/";
  else if (u.path.front() == '?')
    u.path = "/" + u.path;
  return u;
}

std::string excerpt(const std::string& body) {
  constexpr std::size_t max = 300;
  return body.size() <= max ? body : body.substr(0, max) + "...";
}

/// Retry-After in delay-seconds form; the HTTP-date form is not honoured.
std::optional<double> retry_after(const httplib::Response& res) {
  if (!res.has_header("Retry-After"))
    return std::nullopt;
  const auto value = res.get_header_value("Retry-After");
  try {
    std::size_t used = 0;
    double seconds = std::stod(value, &used);
    if (used == value.size() && seconds >= 0)
      return seconds;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

} // namespace

bool is_loopback_host(std::string_view host_text) {
  std::string host = lower(std::string{host_text});
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost")
    return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

step_handler make_http_handler(std::vector<std::string> allowed_hosts) {
  for (auto& h : allowed_hosts)
    h = lower(h);
  return [allowed = std::move(allowed_hosts)](const messaging::step_message& step) {
    const auto& in = step.inputs;
    if (!in.is_object() || !in.contains("url") || !in["url"].is_string())
      return handler_result::failure("inputs.url: expected a string", false);
    const auto url = in["url"].get<std::string>();
    auto parts = split_url(url);
    if (!parts)
      return handler_result::failure("inputs.url: '" + url + "' is not an http(s) URL", false);
    if (!is_loopback_host(parts->host)
        && std::find(allowed.begin(), allowed.end(), parts->host) == allowed.end())
      return handler_result::failure("inputs.url: host '" + parts->host
                                       + "' is neither loopback nor on the allow-list",
                                     false);
    httplib::Client client{parts->scheme + "://" + parts->host
                           + (parts->port.empty() ? "" : ":" + parts->port)};
    client.set_connection_timeout(std::chrono::seconds{std::min(step.timeout_seconds, 10)});
    client.set_read_timeout(std::chrono::seconds{step.timeout_seconds});
    client.set_write_timeout(std::chrono::seconds{step.timeout_seconds});
    auto res = client.Post(parts->path, step.to_json().dump(), "application/json");
    if (!res)
      return handler_result::failure("POST " + url + " failed: " + httplib::to_string(res.error()));
    const int status = res->status;
    if (status >= 200 && status < 300) {
      if (res->body.empty())
        return handler_result::ok();
      auto json = nlohmann::json::parse(res->body, nullptr, false);
      if (json.is_discarded())
        return handler_result::failure("POST " + url + ": HTTP " + std::to_string(status)
                                         + " body is not JSON: " + excerpt(res->body),
                                       false);
      return handler_result::ok(std::move(json));
    }
    // Server-side trouble and throttling may pass; other client errors will not.
    const bool retryable = status >= 500 || status == 429 || status == 408;
    auto r = handler_result::failure("POST " + url + ": HTTP " + std::to_string(status)
                                       + (res->body.empty() ? "" : ": " + excerpt(res->body)),
                                     retryable);
    if (status == 429 || status == 503)
      r.retry_after_seconds = retry_after(*res);
    return r;
  };
}

} // namespace tasker::actors::handlers
