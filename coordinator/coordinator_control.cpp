#include "coordinator/detail/coordinator_internals.hpp"

#include <caf/all.hpp>

namespace tasker::coordinator::detail {

using namespace tasker::messaging;

namespace {

pool_snapshot pool_view(coordinator_ptr self, const std::string& name) {
  for (auto& ps : snapshot_of(self).pools)
    if (ps.name == name)
      return ps;
  return {};
}

caf::error check_operable(coordinator_ptr self, const std::string& pool) {
  if (self->state.shutting_down)
    return make_error(errc::shutting_down, "the node is draining");
  auto i = self->state.pools.find(pool);
  if (i == self->state.pools.end())
    return make_error(errc::unknown_pool, "no pool named '" + pool + "' on this node");
  if (i->second.failed)
    return make_error(errc::unknown_pool, "pool '" + pool + "' has failed");
  return {};
}

} // namespace

caf::result<pool_snapshot> manual_scale(coordinator_ptr self, const pool_scale& req) {
  if (auto err = check_operable(self, req.pool))
    return err;
  auto& st = self->state;
  auto& pool = st.pools.at(req.pool);
  if (req.automatic) {
    pool.manual = false;
    log_event(self, "auto_scaling", req.pool, "resumed by operator");
    return pool_view(self, req.pool);
  }
  auto min = pool.spec.options.min;
  auto max = pool.spec.options.max;
  std::size_t size = req.size;
  auto range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (size < min || size > max)
    return make_error(errc::out_of_range, "pool '" + req.pool + "': size "
                                            + std::to_string(size) + " is outside " + range);
  if (size > pool.target && size - pool.target > st.budget.remaining())
    return make_error(errc::out_of_range,
                      "pool '" + req.pool + "': " + std::to_string(size - pool.target)
                        + " more executor(s) exceed the connection budget ("
                        + std::to_string(st.budget.remaining()) + " left)");
  if (size > pool.target)
    self->send(pool.handle, scale_up{static_cast<std::uint32_t>(size - pool.target)});
  else if (size < pool.target)
    self->send(pool.handle, scale_down{static_cast<std::uint32_t>(pool.target - size)});
  pool.target = size;
  pool.manual = true;
  st.budget.set_current(req.pool, size);
  log_event(self, "manual_scale", req.pool, "size " + std::to_string(size) + ", auto-scaling off");
  return pool_view(self, req.pool);
}

caf::result<pool_snapshot> pause_pool(coordinator_ptr self, const pool_pause& req) {
  if (auto err = check_operable(self, req.pool))
    return err;
  auto& pool = self->state.pools.at(req.pool);
  pool.paused = req.paused;
  self->send(pool.handle, pause_batches{req.paused});
  log_event(self, req.paused ? "pause" : "resume", req.pool, "by operator");
  return pool_view(self, req.pool);
}

} // namespace tasker::coordinator::detail
