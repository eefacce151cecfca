#pragma once
/// A catalogue of malformed queue messages for the input fault suite: task
/// requests and step results of every wrong shape a client can produce once
/// PostgreSQL has accepted the text as jsonb. Each carries the text its
/// archive reason must contain, so a test can tell that the reason names what
/// was wrong and not merely that something was archived.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tasker::fault {

/// The namespace, template and version the good requests use.
inline constexpr const char* good_namespace = "fin";
/// Template name of the good requests.
inline constexpr const char* good_task = "single";

/// The template the good requests start (one noop step).
std::string good_template_toml();

/// One message to send and what its archive reason must say.
struct bad_message {
  std::string text;     ///< the JSON text sent (a JSON value, not always an object)
  std::string expect;   ///< text the archive reason must contain
  std::string category; ///< short name of the fault, for failure messages
};

/// A valid task request for the good template; `n` makes its request id unique.
nlohmann::json good_request(std::uint64_t n);

/// The `n`th malformed task request (categories repeat; `n` makes it distinct).
bad_message bad_request(std::size_t n);

/// The `n`th malformed step result (categories repeat; `n` makes it distinct).
bad_message bad_result(std::size_t n);

/// A task request whose JSON text is `bytes` long or more; refused by size.
bad_message oversized_request(std::size_t bytes);

/// A step result whose JSON text is `bytes` long or more; refused by size.
bad_message oversized_result(std::size_t bytes);

/// A step result for `step_uuid` that names `task_uuid` (neither need exist together).
bad_message result_for(const std::string& task_uuid, const std::string& step_uuid);

/// Number of task request categories bad_request cycles through.
std::size_t request_categories();

/// Number of step result categories bad_result cycles through.
std::size_t result_categories();

/// A deterministic lowercase UUID derived from `tag` and `n`.
std::string fake_uuid(std::uint32_t tag, std::uint64_t n);

} // namespace tasker::fault
