#pragma once
/// Cluster membership in the `nodes` table (0006_nodes.sql): registration,
/// heartbeats, orderly stop, and the sweep that marks silent nodes dead and
/// releases their task claims.
///
/// Every call runs on the caller's transaction; a node keeps these
/// transactions short and on a connection of its own, outside the broker's
/// executor budget, so a saturated broker cannot make a healthy node look dead.

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tasker::resources {

/// A node's membership status.
enum class node_status { live, dead, stopped };

/// The name of `x` as stored: "live", "dead" or "stopped".
std::string_view to_string(node_status x) noexcept;

/// Parses a stored status; throws std::invalid_argument for anything else.
node_status parse_node_status(std::string_view text);

/// What a node says about itself when it registers.
struct node_registration {
  std::string node_id;           ///< unique per running node
  std::string hostname;          ///< the host it runs on
  std::int32_t pid = 0;          ///< its process id
  std::string inspector_address; ///< host:port of its inspector ("" when not published)
  std::string http_address;      ///< host:port of its HTTP endpoint ("" when off)
  nlohmann::json pools = nlohmann::json::array(); ///< its pools, e.g. [{"name", "min", "max"}]
};

/// One row of the `nodes` table.
struct node_record {
  node_registration node;                           ///< what the node registered
  std::chrono::system_clock::time_point started_at; ///< its (last) registration
  std::chrono::system_clock::time_point heartbeat_at; ///< its last heartbeat
  node_status status = node_status::live;           ///< live, dead or stopped
};

/// Registers `node` as live, replacing an earlier row with the same id.
void register_node(pqxx::transaction_base& tx, const node_registration& node);

/// Records a heartbeat of `node_id` (a node swept as dead becomes live
/// again); returns its status before the beat, or nullopt when unregistered.
std::optional<node_status> heartbeat_node(pqxx::transaction_base& tx, std::string_view node_id);

/// Marks `node_id` as stopped; returns false when it was not registered.
bool mark_node_stopped(pqxx::transaction_base& tx, std::string_view node_id);

/// Marks every live node whose last heartbeat is older than `stale_after` as
/// dead and releases its task claims, in one statement; returns their ids.
std::vector<std::string> mark_dead_nodes(pqxx::transaction_base& tx,
                                         std::chrono::milliseconds stale_after);

/// Every registered node (only the live ones with `live_only`), by node id.
std::vector<node_record> list_nodes(pqxx::transaction_base& tx, bool live_only = false);

} // namespace tasker::resources
